terraform {
  required_version = ">= 1.5"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.40"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  # The state holds the generated gossip key, API token and database password (the random
  # provider keeps its results there), so keep it in an encrypted, access-controlled backend,
  # for example:
  #
  # backend "s3" {
  #   bucket       = "my-terraform-state"
  #   key          = "ireports/terraform.tfstate"
  #   region       = "us-east-1"
  #   encrypt      = true
  #   use_lockfile = true
  # }
}
