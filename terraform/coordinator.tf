# The coordinator: one instance at a fixed private address (local.coordinator_ip), running
# `coordinator serve` under systemd.

resource "aws_instance" "coordinator" {
  ami                    = local.ami_id
  instance_type          = local.instance_types.coordinator
  subnet_id              = aws_subnet.private[0].id
  private_ip             = local.coordinator_ip
  vpc_security_group_ids = [aws_security_group.cluster.id, aws_security_group.db_client.id]
  iam_instance_profile   = aws_iam_instance_profile.this["coordinator"].name

  user_data = templatefile("${path.module}/templates/coordinator.sh.tftpl", {
    region                       = var.region
    release_s3_uri               = var.release_s3_uri
    gossip_key_parameter         = aws_ssm_parameter.gossip_key.name
    api_token_parameter          = aws_ssm_parameter.api_token.name
    db_master_password_parameter = aws_ssm_parameter.db_password.name
    db_viz_password_parameter    = aws_ssm_parameter.db_viz_password.name
    db_writer_password_parameter = aws_ssm_parameter.db_writer_password.name
    coordinator_ip               = local.coordinator_ip
    gossip_port                  = var.gossip_port
    api_port                     = var.api_port
    pyroscope_url                = local.pyroscope_url
    raw_url                      = local.bucket_urls.raw
    lake_url                     = local.bucket_urls.lake
    state_url                    = local.state_url
    db_host                      = aws_db_instance.main.address
    db_port                      = aws_db_instance.main.port
    db_name                      = var.db_name
    db_username                  = var.db_username
    db_viz_role                  = local.db_roles.viz
    db_writer_role               = local.db_roles.writer
  })
  # The boot script is the whole configuration: a changed one means a new instance. Running
  # jobs survive it: the old instance's coordinator is stopped (SIGTERM) and interrupts them,
  # keeping their journals in the state bucket, and the new one resumes them (--state).
  user_data_replace_on_change = true

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = var.coordinator_volume_gb
    volume_type = "gp3"
    encrypted   = true
  }

  tags = { Name = "${var.project}-coordinator" }

  lifecycle {
    ignore_changes = [ami]
  }

  # The boot script needs the NAT (SSM), its role's policies and the parameters in place.
  depends_on = [
    aws_route_table_association.private,
    aws_iam_role_policy.parameters,
    aws_iam_role_policy.release,
    aws_iam_role_policy.data,
    aws_iam_role_policy.state,
  ]
}
