# Outputs name things; none carries a secret. The secrets are read from SSM by name.

output "region" {
  description = "Region the cluster runs in."
  value       = var.region
}

output "coordinator_url" {
  description = "The coordinator's API and status page, a private address: reach it through coordinator_port_forward_command."
  value       = "http://${local.coordinator_ip}:${var.api_port}"
}

output "coordinator_instance_id" {
  description = "Instance id of the coordinator, the target of SSM sessions and port forwards."
  value       = aws_instance.coordinator.id
}

output "coordinator_port_forward_command" {
  description = "Forwards localhost:<api_port> to the coordinator's API through SSM Session Manager (needs the session-manager-plugin); then use http://127.0.0.1:<api_port>."
  value       = "aws ssm start-session --region ${var.region} --target ${aws_instance.coordinator.id} --document-name AWS-StartPortForwardingSessionToRemoteHost --parameters host=${local.coordinator_ip},portNumber=${var.api_port},localPortNumber=${var.api_port}"
}

output "viz_url" {
  description = "The viz server's charts, from viz_allowed_cidrs (plain HTTP: see README.md for TLS in front)."
  value       = "http://${aws_eip.viz.public_ip}:${var.viz_port}"
}

output "viz_port_forward_command" {
  description = "Forwards localhost:<viz_port> to the viz server through SSM Session Manager, the way in without opening viz_allowed_cidrs; then open http://127.0.0.1:<viz_port>."
  value       = "aws ssm start-session --region ${var.region} --target ${aws_instance.viz.id} --document-name AWS-StartPortForwardingSession --parameters portNumber=${var.viz_port},localPortNumber=${var.viz_port}"
}

output "pyroscope_url" {
  description = "The Pyroscope server, a private address: forward its port like the coordinator's to open the UI."
  value       = local.pyroscope_url
}

output "pyroscope_instance_id" {
  description = "Instance id of the Pyroscope server, for SSM port forwards."
  value       = aws_instance.pyroscope.id
}

output "raw_bucket" {
  description = "Bucket for the raw city exports and daily batches (IREPORTS_JOB_RAW on the coordinator is s3://<this>)."
  value       = aws_s3_bucket.this["raw"].bucket
}

output "lake_bucket" {
  description = "Bucket of the Parquet lake and the rejects (IREPORTS_JOB_LAKE on the coordinator is s3://<this>)."
  value       = aws_s3_bucket.this["lake"].bucket
}

output "worker_asg_name" {
  description = "Autoscaling group of the workers."
  value       = aws_autoscaling_group.worker.name
}

output "db_endpoint" {
  description = "Postgres host:port (private); the password is in the db_password_parameter SSM parameter."
  value       = aws_db_instance.main.endpoint
}

output "gossip_key_parameter" {
  description = "Name of the SSM SecureString parameter holding the gossip key."
  value       = aws_ssm_parameter.gossip_key.name
}

output "api_token_parameter" {
  description = "Name of the SSM SecureString parameter holding the cluster API token (aws ssm get-parameter --with-decryption --name <this>)."
  value       = aws_ssm_parameter.api_token.name
}

output "db_password_parameter" {
  description = "Name of the SSM SecureString parameter holding the Postgres master user's password."
  value       = aws_ssm_parameter.db_password.name
}

output "db_viz_password_parameter" {
  description = "Name of the SSM SecureString parameter holding the password of ireports_viz, the read-only role viz connects as."
  value       = aws_ssm_parameter.db_viz_password.name
}
