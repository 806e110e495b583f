# The workers: an autoscaling group of identical instances that install the release, join the
# coordinator by gossip and pull tasks. Scale with worker_count.

resource "aws_launch_template" "worker" {
  name_prefix            = "${var.project}-worker-"
  image_id               = local.ami_id
  instance_type          = local.instance_types.worker
  vpc_security_group_ids = [aws_security_group.cluster.id]
  update_default_version = true

  iam_instance_profile {
    arn = aws_iam_instance_profile.this["worker"].arn
  }

  user_data = base64encode(templatefile("${path.module}/templates/worker.sh.tftpl", {
    region               = var.region
    release_s3_uri       = var.release_s3_uri
    gossip_key_parameter = aws_ssm_parameter.gossip_key.name
    api_token_parameter  = aws_ssm_parameter.api_token.name
    coordinator_ip       = local.coordinator_ip
    gossip_port          = var.gossip_port
    shuffle_port         = var.shuffle_port
    worker_slots         = var.worker_slots
    pyroscope_url        = local.pyroscope_url
    raw_url              = local.bucket_urls.raw
    lake_url             = local.bucket_urls.lake
  }))

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = var.worker_volume_gb
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.project}-worker" }
  }

  tag_specifications {
    resource_type = "volume"
    tags          = { Name = "${var.project}-worker" }
  }
}

resource "aws_autoscaling_group" "worker" {
  name_prefix         = "${var.project}-worker-"
  min_size            = var.worker_count
  max_size            = var.worker_count
  desired_capacity    = var.worker_count
  vpc_zone_identifier = aws_subnet.private[*].id

  health_check_type         = "EC2"
  health_check_grace_period = 120

  launch_template {
    id      = aws_launch_template.worker.id
    version = aws_launch_template.worker.latest_version
  }

  # A new release or boot script replaces the workers a few at a time; the coordinator
  # re-runs the tasks of the ones that leave.
  instance_refresh {
    strategy = "Rolling"

    preferences {
      min_healthy_percentage = 50
    }
  }

  tag {
    key                 = "Name"
    value               = "${var.project}-worker"
    propagate_at_launch = true
  }

  depends_on = [
    aws_instance.coordinator,
    aws_iam_role_policy.parameters,
    aws_iam_role_policy.release,
    aws_iam_role_policy.data,
  ]
}
