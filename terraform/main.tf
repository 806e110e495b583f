# ireports on AWS: a coordinator and an autoscaling group of workers in private subnets, the
# raw and lake buckets, Postgres on RDS, a Pyroscope server, and the viz server in a public
# subnet. See README.md in this directory.

provider "aws" {
  region = var.region

  default_tags {
    tags = merge({
      Project   = var.project
      ManagedBy = "terraform"
    }, var.tags)
  }
}

data "aws_caller_identity" "current" {}

data "aws_availability_zones" "available" {
  state = "available"
}

# Amazon Linux 2023 ships the AWS CLI and the SSM agent, which the boot scripts and the
# operator's sessions rely on.
data "aws_ssm_parameter" "al2023" {
  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${var.architecture}"
}

locals {
  account_id = data.aws_caller_identity.current.account_id
  azs        = slice(data.aws_availability_zones.available.names, 0, var.az_count)
  ami_id     = data.aws_ssm_parameter.al2023.insecure_value

  # Instance types default per architecture, so that switching to arm64 needs one variable.
  default_instance_types = {
    x86_64 = { coordinator = "m7i.large", worker = "c7i.2xlarge", pyroscope = "t3.medium", viz = "t3.small" }
    arm64  = { coordinator = "m7g.large", worker = "c7g.2xlarge", pyroscope = "t4g.medium", viz = "t4g.small" }
  }
  instance_types = {
    coordinator = coalesce(var.coordinator_instance_type, local.default_instance_types[var.architecture].coordinator)
    worker      = coalesce(var.worker_instance_type, local.default_instance_types[var.architecture].worker)
    pyroscope   = coalesce(var.pyroscope_instance_type, local.default_instance_types[var.architecture].pyroscope)
    viz         = coalesce(var.viz_instance_type, local.default_instance_types[var.architecture].viz)
  }

  # The coordinator has a fixed address: workers join it by that address, its API advertises
  # it (an API bound to 0.0.0.0 would advertise an address other hosts cannot dial), and a
  # replaced coordinator comes back where the workers look for it.
  coordinator_ip = cidrhost(aws_subnet.private[0].cidr_block, 10)

  pyroscope_port = 4040
  pyroscope_url  = "http://${aws_instance.pyroscope.private_ip}:${local.pyroscope_port}"

  # The release artifact, split for the IAM policy that lets instances read exactly it.
  release_bucket = regex("^s3://([^/]+)/", var.release_s3_uri)[0]
  release_key    = trimprefix(var.release_s3_uri, "s3://${local.release_bucket}/")

  # state holds the coordinator's job journals (--state): not in the lake, which the workers
  # and every job may read and write, because a journal holds its job's spec with what the
  # job file read through env(), and a journal rewritten by a job would resume another job.
  bucket_names = {
    raw   = coalesce(var.raw_bucket_name, "${var.project}-raw-${local.account_id}-${var.region}")
    lake  = coalesce(var.lake_bucket_name, "${var.project}-lake-${local.account_id}-${var.region}")
    state = coalesce(var.state_bucket_name, "${var.project}-state-${local.account_id}-${var.region}")
  }
  # The buckets as job paths: the roots the coordinator and the workers allow (--allow-path),
  # and IREPORTS_JOB_RAW / IREPORTS_JOB_LAKE, which cluster.job builds its paths from.
  bucket_urls = {
    raw  = "s3://${aws_s3_bucket.this["raw"].bucket}"
    lake = "s3://${aws_s3_bucket.this["lake"].bucket}"
  }
  # Where the coordinator journals its running jobs (coordinator serve --state).
  state_url = "s3://${aws_s3_bucket.this["state"].bucket}/journals"
}
