# One role per kind of instance, each allowed exactly what its process does:
#
#   role         raw bucket   lake bucket   state bucket   release object   SSM parameters
#   coordinator  read         read/write    read/write     read             gossip key, API token, the three
#                                                                           DB passwords (master, viz, writer)
#   worker       read         read/write    -              read             gossip key, API token
#   viz          -            -             -              read             the viz role's DB password
#   pyroscope    -            -             -              -                -
#
# Every role may also register with SSM so that operators can open sessions and port
# forwards without SSH. AmazonSSMManagedInstanceCore is not used: it grants
# ssm:GetParameter on every parameter in the account.

data "aws_iam_policy_document" "ec2_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

locals {
  roles = toset(["coordinator", "worker", "viz", "pyroscope"])

  # The SSM parameters each role reads at boot.
  role_parameters = {
    coordinator = [
      aws_ssm_parameter.gossip_key.arn, aws_ssm_parameter.api_token.arn,
      aws_ssm_parameter.db_password.arn, aws_ssm_parameter.db_viz_password.arn, aws_ssm_parameter.db_writer_password.arn,
    ]
    worker    = [aws_ssm_parameter.gossip_key.arn, aws_ssm_parameter.api_token.arn]
    viz       = [aws_ssm_parameter.db_viz_password.arn]
    pyroscope = []
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name_prefix        = "${var.project}-${each.key}-"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume.json
}

resource "aws_iam_instance_profile" "this" {
  for_each = local.roles

  name_prefix = "${var.project}-${each.key}-"
  role        = aws_iam_role.this[each.key].name
}

# Session Manager: what the agent needs to register and carry shell and port-forwarding
# sessions, and nothing of Run Command's patching and inventory.
data "aws_iam_policy_document" "session_manager" {
  statement {
    actions = [
      "ssm:UpdateInstanceInformation",
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
      "ec2messages:AcknowledgeMessage",
      "ec2messages:DeleteMessage",
      "ec2messages:FailMessage",
      "ec2messages:GetEndpoint",
      "ec2messages:GetMessages",
      "ec2messages:SendReply",
    ]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "session_manager" {
  for_each = local.roles

  name   = "session-manager"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.session_manager.json
}

data "aws_iam_policy_document" "release" {
  statement {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::${local.release_bucket}/${local.release_key}"]
  }
}

resource "aws_iam_role_policy" "release" {
  for_each = toset(["coordinator", "worker", "viz"])

  name   = "release-artifact"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.release.json
}

data "aws_iam_policy_document" "parameters" {
  for_each = { for r, arns in local.role_parameters : r => arns if length(arns) > 0 }

  statement {
    actions   = ["ssm:GetParameter"]
    resources = each.value
  }

  # Decrypt only on behalf of SSM, and only for this role's parameters: SSM puts the
  # parameter's ARN in the encryption context.
  statement {
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.secrets.arn]

    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["ssm.${var.region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "kms:EncryptionContext:PARAMETER_ARN"
      values   = each.value
    }
  }
}

resource "aws_iam_role_policy" "parameters" {
  for_each = data.aws_iam_policy_document.parameters

  name   = "ssm-parameters"
  role   = aws_iam_role.this[each.key].id
  policy = each.value.json
}

# Coordinator and workers: read raw, read and write the lake (attempt files, the commit's
# copy and delete, the _SUCCESS manifest, multipart uploads of large Parquet files).
data "aws_iam_policy_document" "data" {
  statement {
    sid       = "ListBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.this["raw"].arn, aws_s3_bucket.this["lake"].arn]
  }

  statement {
    sid       = "ReadRaw"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.this["raw"].arn}/*"]
  }

  statement {
    sid       = "ListLakeUploads"
    actions   = ["s3:ListBucketMultipartUploads"]
    resources = [aws_s3_bucket.this["lake"].arn]
  }

  statement {
    sid = "ReadWriteLake"
    actions = [
      "s3:GetObject",
      "s3:PutObject",
      "s3:DeleteObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${aws_s3_bucket.this["lake"].arn}/*"]
  }
}

resource "aws_iam_role_policy" "data" {
  for_each = toset(["coordinator", "worker"])

  name   = "raw-read-lake-write"
  role   = aws_iam_role.this[each.key].id
  policy = data.aws_iam_policy_document.data.json
}

# The coordinator alone: its job journals under local.state_url (list the jobs, append a
# segment with a conditional PUT, read them back, delete a finished job's).
data "aws_iam_policy_document" "state" {
  statement {
    sid       = "ListJournals"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [aws_s3_bucket.this["state"].arn]
  }

  statement {
    sid       = "ReadWriteJournals"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.this["state"].arn}/*"]
  }
}

resource "aws_iam_role_policy" "state" {
  name   = "job-journals"
  role   = aws_iam_role.this["coordinator"].id
  policy = data.aws_iam_policy_document.state.json
}
