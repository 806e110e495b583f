# Postgres for the summary tables, job runs and ingest watermarks: private, encrypted, reached
# only by the db-client group (coordinator, viz).

locals {
  # Login roles besides the master user, created by the coordinator's boot script: viz reads
  # as the read-only role of `coordinator migrate --readonly-role` (pgsink.EnsureReadOnlyRole),
  # and the coordinator daemon, with its jobs, publishes as the writer, which can change rows
  # but not the schema or roles. Neither ever holds the master password.
  db_roles = {
    viz    = "ireports_viz"
    writer = "ireports_writer"
  }
}

resource "aws_db_subnet_group" "main" {
  name_prefix = "${var.project}-"
  subnet_ids  = aws_subnet.private[*].id
}

# A fresh suffix per database, so that the final snapshot of one deployment never collides
# with that of the next.
resource "random_id" "final_snapshot" {
  byte_length = 4
}

resource "aws_db_instance" "main" {
  identifier_prefix = "${var.project}-"
  engine            = "postgres"
  engine_version    = var.db_engine_version
  instance_class    = var.db_instance_class

  allocated_storage     = var.db_allocated_storage_gb
  max_allocated_storage = var.db_allocated_storage_gb * 4
  storage_type          = "gp3"
  storage_encrypted     = true

  db_name  = var.db_name
  username = var.db_username
  password = random_password.db.result

  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.db.id]
  publicly_accessible    = false
  multi_az               = var.db_multi_az

  backup_retention_period    = var.db_backup_retention_days
  copy_tags_to_snapshot      = true
  auto_minor_version_upgrade = true
  deletion_protection        = var.db_deletion_protection
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${var.project}-final-${random_id.final_snapshot.hex}"

  tags = { Name = var.project }
}
