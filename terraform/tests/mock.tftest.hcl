# A full apply against a mocked AWS: every expression, validation, for_each and template is
# evaluated by terraform itself, without credentials or an account.
#
#   cd terraform && terraform init && terraform test
#
# Needs the providers (terraform init); where they cannot be downloaded, go test ./terraform
# checks what it can statically. The mocks give the computed attributes that the AWS
# provider validates (ARNs, ids) a plausible shape.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = { names = ["us-east-1a", "us-east-1b", "us-east-1c"] }
  }
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ami-0123456789abcdef0" }
  }
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{}" }
  }
  mock_resource "aws_instance" {
    defaults = { private_ip = "10.40.0.42" }
  }
  mock_resource "aws_db_instance" {
    defaults = { address = "ireports.example.us-east-1.rds.amazonaws.com", port = 5432, endpoint = "ireports.example.us-east-1.rds.amazonaws.com:5432" }
  }
  mock_resource "aws_iam_instance_profile" {
    defaults = { arn = "arn:aws:iam::123456789012:instance-profile/ireports" }
  }
  mock_resource "aws_iam_role" {
    defaults = { arn = "arn:aws:iam::123456789012:role/ireports" }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::ireports-mock" }
  }
  mock_resource "aws_kms_key" {
    defaults = { arn = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000" }
  }
  mock_resource "aws_ssm_parameter" {
    defaults = { arn = "arn:aws:ssm:us-east-1:123456789012:parameter/ireports/mock" }
  }
  mock_resource "aws_launch_template" {
    defaults = { id = "lt-0123456789abcdef0", latest_version = 1 }
  }
  mock_resource "aws_eip" {
    defaults = { public_ip = "203.0.113.7" }
  }
}

variables {
  release_s3_uri    = "s3://city-artifacts/ireports/v0.1.0/ireports-linux-amd64.tar.gz"
  viz_allowed_cidrs = ["198.51.100.0/24"]
}

run "defaults" {
  command = apply

  assert {
    condition     = output.coordinator_url == "http://10.40.0.10:8080"
    error_message = "coordinator_url is ${output.coordinator_url}, want the fixed address 10.40.0.10:8080"
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.worker.user_data), "--join 10.40.0.10:7946")
    error_message = "workers do not join the coordinator's gossip address"
  }
  assert {
    condition = alltrue([for s in [random_bytes.gossip_key.base64, random_password.api_token.result, random_password.db.result, random_password.db_viz.result, random_password.db_writer.result] :
      !strcontains(aws_instance.coordinator.user_data, s) &&
      !strcontains(aws_instance.viz.user_data, s) &&
    !strcontains(base64decode(aws_launch_template.worker.user_data), s)])
    error_message = "a secret appears in user data"
  }
  assert {
    condition     = !strcontains(aws_instance.viz.user_data, aws_ssm_parameter.db_password.name) && strcontains(aws_instance.viz.user_data, "--db-file ")
    error_message = "viz reads the master password's parameter, or gets its URL other than by --db-file"
  }
  assert {
    condition     = strcontains(aws_instance.coordinator.user_data, "--allow-path s3://") && strcontains(base64decode(aws_launch_template.worker.user_data), "--allow-path s3://")
    error_message = "the coordinator or the workers do not restrict jobs to the buckets"
  }
  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.this["lake"].rule) == 4 && length(aws_s3_bucket_lifecycle_configuration.this["raw"].rule) == 1 && length(aws_s3_bucket_lifecycle_configuration.this["state"].rule) == 1
    error_message = "want the base rule on every bucket and three _temporary/ rules on the lake"
  }
  assert {
    condition     = strcontains(aws_instance.coordinator.user_data, "--state s3://${aws_s3_bucket.this["state"].bucket}/journals") && !strcontains(base64decode(aws_launch_template.worker.user_data), aws_s3_bucket.this["state"].bucket)
    error_message = "the coordinator does not journal its jobs in the state bucket (a replacement would not resume them), or the workers are told of it"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.cluster) == 4 && !aws_db_instance.main.publicly_accessible && aws_db_instance.main.storage_encrypted
    error_message = "cluster ports or database exposure"
  }
  assert {
    condition     = aws_autoscaling_group.worker.desired_capacity == 3
    error_message = "worker_count does not size the autoscaling group"
  }
}

run "arm64_scaled" {
  command = plan

  variables {
    architecture      = "arm64"
    worker_count      = 7
    viz_allowed_cidrs = ["198.51.100.0/24", "203.0.113.0/24"]
  }

  assert {
    condition     = aws_launch_template.worker.instance_type == "c7g.2xlarge" && aws_autoscaling_group.worker.desired_capacity == 7
    error_message = "arm64 instance types or worker_count"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.viz) == 2
    error_message = "one viz ingress rule per allowed CIDR"
  }
}

run "viz_world_open_refused" {
  command = plan

  variables {
    viz_allowed_cidrs = ["0.0.0.0/0"]
  }

  expect_failures = [aws_security_group.viz]
}

run "viz_public" {
  command = plan

  variables {
    viz_allowed_cidrs = ["0.0.0.0/0"]
    viz_public        = true
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.viz) == 1
    error_message = "viz_public = true opens viz to 0.0.0.0/0"
  }
}

run "viz_private" {
  command = plan

  variables {
    viz_allowed_cidrs = []
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.viz) == 0
    error_message = "an empty viz_allowed_cidrs opens viz to no one (SSM port forwarding only)"
  }
}
