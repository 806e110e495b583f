# The cluster's secrets: generated here, stored as SecureString parameters under a key of
# their own, and read by the instances at boot (templates/*.sh.tftpl) into 0600 files. The
# user-data and the outputs carry only the parameter names.

resource "random_bytes" "gossip_key" {
  # memberlist's AES-256 key; the daemons accept it base64-encoded.
  length = 32
}

resource "random_password" "api_token" {
  length  = 48
  special = false
}

resource "random_password" "db" {
  # No special characters: RDS forbids some, and the password goes into a systemd
  # EnvironmentFile where quotes and backslashes would need escaping.
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
  description = "ireports Postgres password of ${var.db_username}"
  type        = "SecureString"
  key_id      = aws_kms_key.secrets.arn
  value       = random_password.db.result
}
