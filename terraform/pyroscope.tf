# The Pyroscope server that every binary pushes CPU, allocation and goroutine profiles to
# (--pyroscope-url). Private; operators open its UI through an SSM port forward.

resource "aws_instance" "pyroscope" {
  ami                    = local.ami_id
  instance_type          = local.instance_types.pyroscope
  subnet_id              = aws_subnet.private[0].id
  vpc_security_group_ids = [aws_security_group.pyroscope.id]
  iam_instance_profile   = aws_iam_instance_profile.this["pyroscope"].name

  user_data = templatefile("${path.module}/templates/pyroscope.sh.tftpl", {
    pyroscope_version = var.pyroscope_version
    pyroscope_arch    = var.architecture == "arm64" ? "arm64" : "amd64"
    pyroscope_port    = local.pyroscope_port
  })
  user_data_replace_on_change = true

  metadata_options {
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_size = var.pyroscope_volume_gb
    volume_type = "gp3"
    encrypted   = true
  }

  tags = { Name = "${var.project}-pyroscope" }

  # A newer AMI must not replace the server and lose its profiles.
  lifecycle {
    ignore_changes = [ami]
  }

  depends_on = [aws_route_table_association.private]
}
