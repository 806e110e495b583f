# The cluster's secrets: generated here, stored as SecureString parameters under a key of
# their own, and read by the instances at boot (templates/*.sh.tftpl) into 0600 files. The
# user-data and the outputs carry only the parameter names.
#
# Three database passwords, one per role (rds.tf, local.db_roles): the RDS master user's,
# which only the coordinator's boot script uses (migrations, creating the other two roles);
# the read-only role's, which viz connects as; and the writer role's, which the coordinator
# daemon publishes as.

resource "random_bytes" "gossip_key" {
  # memberlist's AES-256 key; the daemons accept it base64-encoded.
  length = 32
}

resource "random_password" "api_token" {
  length  = 48
  special = false
}

resource "random_password" "db" {
  # No special characters, here and below: RDS forbids some, and the passwords go into
  # postgres:// URLs, where they would need escaping.
  length  = 40
  special = false
}

resource "random_password" "db_viz" {
  length  = 40
  special = false
}

resource "random_password" "db_writer" {
  length  = 40
  special = false
}

resource "aws_kms_key" "secrets" {
  description             = "${var.project}: SSM parameters (gossip key, API token, database password)"
  deletion_window_in_days = 7
  enable_key_rotation     = true
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.project}-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

resource "aws_ssm_parameter" "gossip_key" {
  name        = "/${var.project}/gossip-key"
  description = "ireports memberlist encryption key (32 bytes, base64)"
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.arn
  value       = random_bytes.gossip_key.base64
}

resource "aws_ssm_parameter" "api_token" {
  name        = "/${var.project}/api-token"
  description = "ireports cluster token for the API and the shuffle"
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.arn
  value       = random_password.api_token.result
}

resource "aws_ssm_parameter" "db_password" {
  name        = "/${var.project}/db-password"
  description = "ireports Postgres password of the master user ${var.db_username}"
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.arn
  value       = random_password.db.result
}

resource "aws_ssm_parameter" "db_viz_password" {
  name        = "/${var.project}/db-viz-password"
  description = "ireports Postgres password of ${local.db_roles.viz}, the read-only role viz connects as"
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.arn
  value       = random_password.db_viz.result
}

resource "aws_ssm_parameter" "db_writer_password" {
  name        = "/${var.project}/db-writer-password"
  description = "ireports Postgres password of ${local.db_roles.writer}, the role the coordinator publishes as"
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.arn
  value       = random_password.db_writer.result
}
