# Security groups. The cluster group is shared by the coordinator and the workers: gossip,
# the API and the shuffle are open between its members and to no one else. Nothing accepts
# SSH; operators use SSM Session Manager (README.md, "Submit a job").

resource "aws_security_group" "cluster" {
  name_prefix = "${var.project}-cluster-"
  description = "ireports coordinator and workers: gossip, API and shuffle between members only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.project}-cluster" }

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  # Ports open between members of the cluster group.
  cluster_ports = {
    gossip-tcp = { protocol = "tcp", port = var.gossip_port }
    gossip-udp = { protocol = "udp", port = var.gossip_port }
    api        = { protocol = "tcp", port = var.api_port }
    shuffle    = { protocol = "tcp", port = var.shuffle_port }
  }
}

resource "aws_vpc_security_group_ingress_rule" "cluster" {
  for_each = local.cluster_ports

  security_group_id            = aws_security_group.cluster.id
  referenced_security_group_id = aws_security_group.cluster.id
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.port
  to_port                      = each.value.port
  description                  = "${each.key} between cluster members"
}

# Outbound: S3 (endpoint), SSM and the NAT. Ports are not narrowed because the AWS endpoints
# and GitHub are only known by name.
resource "aws_vpc_security_group_egress_rule" "cluster" {
  security_group_id = aws_security_group.cluster.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all outbound"
}

# Marker group: its members may reach Postgres.
resource "aws_security_group" "db_client" {
  name_prefix = "${var.project}-db-client-"
  description = "ireports instances allowed to connect to Postgres"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.project}-db-client" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group" "db" {
  name_prefix = "${var.project}-db-"
  description = "ireports Postgres: only from db-client members"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.project}-db" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "db" {
  security_group_id            = aws_security_group.db.id
  referenced_security_group_id = aws_security_group.db_client.id
  ip_protocol                  = "tcp"
  from_port                    = aws_db_instance.main.port
  to_port                      = aws_db_instance.main.port
  description                  = "Postgres from db clients"
}

resource "aws_security_group" "pyroscope" {
  name_prefix = "${var.project}-pyroscope-"
  description = "Pyroscope server: profile pushes from the cluster and viz"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.project}-pyroscope" }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "pyroscope" {
  for_each = {
    cluster = aws_security_group.cluster.id
    viz     = aws_security_group.viz.id
  }

  security_group_id            = aws_security_group.pyroscope.id
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = local.pyroscope_port
  to_port                      = local.pyroscope_port
  description                  = "profiles from ${each.key}"
}

resource "aws_vpc_security_group_egress_rule" "pyroscope" {
  security_group_id = aws_security_group.pyroscope.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all outbound"
}

resource "aws_security_group" "viz" {
  name_prefix = "${var.project}-viz-"
  description = "ireports viz server: its port to the allowed CIDRs"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${var.project}-viz" }

  lifecycle {
    create_before_destroy = true

    # Not a validation of viz_allowed_cidrs: before terraform 1.9 a validation may not read
    # another variable. Uses only functions that go test ./terraform can evaluate too.
    precondition {
      condition     = var.viz_public || length([for c in var.viz_allowed_cidrs : c if tonumber(split("/", c)[1]) < 8]) == 0
      error_message = "viz_allowed_cidrs opens viz to blocks wider than /8 (such as 0.0.0.0/0): set viz_public = true to publish the charts to the internet, or narrow the blocks (README.md, \"Reaching viz\")."
    }
  }
}

resource "aws_vpc_security_group_ingress_rule" "viz" {
  for_each = toset(var.viz_allowed_cidrs)

  security_group_id = aws_security_group.viz.id
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = var.viz_port
  to_port           = var.viz_port
  description       = "viz from ${each.value}"
}

resource "aws_vpc_security_group_egress_rule" "viz" {
  security_group_id = aws_security_group.viz.id
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  description       = "all outbound"
}
