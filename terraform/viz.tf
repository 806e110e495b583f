# The viz server: Plotly charts over the Postgres summary tables, in a public subnet with a
# fixed address.

resource "aws_instance" "viz" {
  ami                         = local.ami_id
  instance_type               = local.instance_types.viz
  subnet_id                   = aws_subnet.public[0].id
  associate_public_ip_address = true
  vpc_security_group_ids      = [aws_security_group.viz.id, aws_security_group.db_client.id]
  iam_instance_profile        = aws_iam_instance_profile.this["viz"].name

  user_data = templatefile("${path.module}/templates/viz.sh.tftpl", {
    region                    = var.region
    release_s3_uri            = var.release_s3_uri
    db_viz_password_parameter = aws_ssm_parameter.db_viz_password.name
    db_host                   = aws_db_instance.main.address
    db_port                   = aws_db_instance.main.port
    db_name                   = var.db_name
    db_viz_role               = local.db_roles.viz
    viz_port                  = var.viz_port
    pyroscope_url             = local.pyroscope_url
  })
  user_data_replace_on_change = true

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = 20
    volume_type = "gp3"
    encrypted   = true
  }

  tags = { Name = "${var.project}-viz" }

  lifecycle {
    ignore_changes = [ami]
  }

  depends_on = [
    aws_route_table_association.public,
    aws_iam_role_policy.parameters,
    aws_iam_role_policy.release,
  ]
}

resource "aws_eip" "viz" {
  domain   = "vpc"
  instance = aws_instance.viz.id

  tags = { Name = "${var.project}-viz" }

  depends_on = [aws_internet_gateway.main]
}
