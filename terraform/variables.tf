variable "project" {
  description = "Name prefix of every resource and of the SSM parameters (/<project>/...). Lower case, 2 to 20 characters, so that bucket names stay under 63."
  type        = string
  default     = "ireports"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,19}$", var.project))
    error_message = "project must be 2-20 characters of a-z, 0-9 and '-', starting with a letter."
  }
}

variable "region" {
  description = "AWS region to deploy into."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must look like us-east-1."
  }
}

variable "tags" {
  description = "Extra tags for every resource (the provider adds Project and ManagedBy)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.tags) : length(k) <= 128 && !startswith(lower(k), "aws:")])
    error_message = "tag keys must be at most 128 characters and must not start with aws:."
  }
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC. It is cut into /(prefix+4) subnets: private ones for the cluster, public ones for the viz server and the NAT gateway."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && can(regex("^[0-9.]+/(1[6-9]|2[0-2])$", var.vpc_cidr))
    error_message = "vpc_cidr must be an IPv4 CIDR block with a prefix length from /16 to /22."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the private subnets (workers, RDS) over. RDS needs at least two."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 4 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number from 2 to 4."
  }
}

variable "architecture" {
  description = "CPU architecture of every instance, x86_64 or arm64. The release tarball must be built for it (GOARCH=amd64 or arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.architecture)
    error_message = "architecture must be x86_64 or arm64."
  }
}

variable "release_s3_uri" {
  description = "S3 URI of the release tarball that make release builds (one top directory holding bin/coordinator, bin/worker and bin/viz), e.g. s3://my-artifacts/ireports/v0.3.0/ireports-v0.3.0-linux-amd64.tar.gz. Instances may read this one object and no other in its bucket."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\\.tar\\.gz$", var.release_s3_uri))
    error_message = "release_s3_uri must be s3://BUCKET/KEY ending in .tar.gz."
  }
}

variable "coordinator_instance_type" {
  description = "EC2 instance type of the coordinator; null picks one for the architecture (m7i.large or m7g.large)."
  type        = string
  default     = null

  validation {
    condition     = var.coordinator_instance_type == null || can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.coordinator_instance_type))
    error_message = "coordinator_instance_type must be an instance type such as m7i.large."
  }
}

variable "worker_instance_type" {
  description = "EC2 instance type of the workers; null picks one for the architecture (c7i.2xlarge or c7g.2xlarge)."
  type        = string
  default     = null

  validation {
    condition     = var.worker_instance_type == null || can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.worker_instance_type))
    error_message = "worker_instance_type must be an instance type such as c7i.2xlarge."
  }
}

variable "pyroscope_instance_type" {
  description = "EC2 instance type of the Pyroscope server; null picks one for the architecture (t3.medium or t4g.medium)."
  type        = string
  default     = null

  validation {
    condition     = var.pyroscope_instance_type == null || can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.pyroscope_instance_type))
    error_message = "pyroscope_instance_type must be an instance type such as t3.medium."
  }
}

variable "viz_instance_type" {
  description = "EC2 instance type of the viz server; null picks one for the architecture (t3.small or t4g.small)."
  type        = string
  default     = null

  validation {
    condition     = var.viz_instance_type == null || can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.viz_instance_type))
    error_message = "viz_instance_type must be an instance type such as t3.small."
  }
}

variable "worker_count" {
  description = "Number of worker instances. Change it and apply to scale; a worker removed mid-job loses its tasks to the others, which re-run them."
  type        = number
  default     = 3

  validation {
    condition     = var.worker_count >= 0 && var.worker_count <= 200 && floor(var.worker_count) == var.worker_count
    error_message = "worker_count must be a whole number from 0 to 200."
  }
}

variable "worker_slots" {
  description = "Tasks each worker runs at once (worker --slots); 0 means one per core."
  type        = number
  default     = 0

  validation {
    condition     = var.worker_slots >= 0 && var.worker_slots <= 256 && floor(var.worker_slots) == var.worker_slots
    error_message = "worker_slots must be a whole number from 0 to 256."
  }
}

variable "worker_volume_gb" {
  description = "Root volume size of each worker in GiB; it holds the map outputs of running jobs (about the job's input size, spread over the workers, until the job ends)."
  type        = number
  default     = 200

  validation {
    condition     = var.worker_volume_gb >= 20 && var.worker_volume_gb <= 16384
    error_message = "worker_volume_gb must be from 20 to 16384."
  }
}

variable "coordinator_volume_gb" {
  description = "Root volume size of the coordinator in GiB (job history)."
  type        = number
  default     = 30

  validation {
    condition     = var.coordinator_volume_gb >= 20 && var.coordinator_volume_gb <= 16384
    error_message = "coordinator_volume_gb must be from 20 to 16384."
  }
}

variable "pyroscope_volume_gb" {
  description = "Root volume size of the Pyroscope server in GiB (profiles)."
  type        = number
  default     = 50

  validation {
    condition     = var.pyroscope_volume_gb >= 20 && var.pyroscope_volume_gb <= 16384
    error_message = "pyroscope_volume_gb must be from 20 to 16384."
  }
}

variable "gossip_port" {
  description = "Gossip port (TCP and UDP) of the coordinator and the workers."
  type        = number
  default     = 7946

  validation {
    condition     = var.gossip_port >= 1024 && var.gossip_port <= 65535 && floor(var.gossip_port) == var.gossip_port
    error_message = "gossip_port must be a port from 1024 to 65535."
  }
}

variable "api_port" {
  description = "Port of the coordinator's HTTP API and status page."
  type        = number
  default     = 8080

  validation {
    condition     = var.api_port >= 1024 && var.api_port <= 65535 && floor(var.api_port) == var.api_port
    error_message = "api_port must be a port from 1024 to 65535."
  }
}

variable "shuffle_port" {
  description = "Port on which each worker serves its map outputs to reducers (worker --listen)."
  type        = number
  default     = 7070

  validation {
    condition     = var.shuffle_port >= 1024 && var.shuffle_port <= 65535 && floor(var.shuffle_port) == var.shuffle_port
    error_message = "shuffle_port must be a port from 1024 to 65535."
  }
}

variable "viz_port" {
  description = "Port of the viz web server, open to viz_allowed_cidrs."
  type        = number
  default     = 8080

  validation {
    condition     = var.viz_port >= 1024 && var.viz_port <= 65535 && floor(var.viz_port) == var.viz_port
    error_message = "viz_port must be a port from 1024 to 65535."
  }
}

variable "viz_allowed_cidrs" {
  description = "IPv4 CIDR blocks that may open the viz server's port, e.g. the city's network. Required, with no default: [] opens it to no one (reach it through SSM port forwarding, viz_port_forward_command, or a VPN into the VPC). A block wider than /8, 0.0.0.0/0 among them, also needs viz_public = true. viz speaks plain HTTP: put TLS in front (README.md, \"Reaching viz\")."
  type        = list(string)

  validation {
    condition     = alltrue([for c in var.viz_allowed_cidrs : can(cidrhost(c, 0)) && !strcontains(c, ":")])
    error_message = "viz_allowed_cidrs must be a list of IPv4 CIDR blocks."
  }
}

variable "viz_public" {
  description = "Allow viz_allowed_cidrs to hold blocks wider than /8, such as 0.0.0.0/0: the charts open to the internet. They show only published summaries, but over plain HTTP unless TLS is put in front."
  type        = bool
  default     = false
}

variable "raw_bucket_name" {
  description = "Name of the raw-data bucket; null derives <project>-raw-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.raw_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.raw_bucket_name))
    error_message = "raw_bucket_name must be a valid S3 bucket name."
  }
}

variable "lake_bucket_name" {
  description = "Name of the lake bucket (Parquet output, rejects); null derives <project>-lake-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.lake_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.lake_bucket_name))
    error_message = "lake_bucket_name must be a valid S3 bucket name."
  }
}

variable "state_bucket_name" {
  description = "Name of the bucket that holds the coordinator's job journals (coordinator serve --state), from which a replaced coordinator resumes the running jobs; only the coordinator may use it. null derives <project>-state-<account>-<region>."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "lake_output_prefixes" {
  description = "Key prefixes of the job outputs in the lake bucket (the job file's output parquet, summaries and rejects, without s3://bucket/). Their <prefix>/_temporary/ attempt files expire by lifecycle rule; cluster.job writes to requests, summaries (beside requests, by default) and rejects."
  type        = list(string)
  default     = ["requests", "summaries", "rejects"]

  validation {
    condition     = alltrue([for p in var.lake_output_prefixes : can(regex("^[A-Za-z0-9_=.-]+(/[A-Za-z0-9_=.-]+)*$", p))])
    error_message = "lake_output_prefixes must be key prefixes without leading or trailing slashes."
  }
}

variable "temporary_expiration_days" {
  description = "Days after which leftover _temporary/ attempt files in the lake (from a crashed coordinator) are deleted. Longer than the longest job."
  type        = number
  default     = 3

  validation {
    condition     = var.temporary_expiration_days >= 1 && floor(var.temporary_expiration_days) == var.temporary_expiration_days
    error_message = "temporary_expiration_days must be a whole number of at least 1."
  }
}

variable "noncurrent_version_days" {
  description = "Days a replaced or deleted object version is kept in the versioned buckets before it expires (the undo window for a bad job)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_days >= 1 && floor(var.noncurrent_version_days) == var.noncurrent_version_days
    error_message = "noncurrent_version_days must be a whole number of at least 1."
  }
}

variable "force_destroy_buckets" {
  description = "Let terraform destroy delete the buckets with their contents. Leave false in production; set true (and apply) before tearing down a trial."
  type        = bool
  default     = false
}

variable "db_instance_class" {
  description = "RDS instance class of the Postgres summary database."
  type        = string
  default     = "db.t4g.medium"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db_instance_class))
    error_message = "db_instance_class must look like db.t4g.medium."
  }
}

variable "db_engine_version" {
  description = "Postgres major (or major.minor) version on RDS."
  type        = string
  default     = "16"

  validation {
    condition     = can(regex("^1[3-9](\\.[0-9]+)?$", var.db_engine_version))
    error_message = "db_engine_version must be a Postgres version from 13, such as 16 or 16.4."
  }
}

variable "db_allocated_storage_gb" {
  description = "Initial storage of the database in GiB; RDS grows it up to 4x by itself."
  type        = number
  default     = 50

  validation {
    condition     = var.db_allocated_storage_gb >= 20 && var.db_allocated_storage_gb <= 16384
    error_message = "db_allocated_storage_gb must be from 20 to 16384."
  }
}

variable "db_name" {
  description = "Name of the Postgres database that holds the summary tables, job runs and ingest watermarks."
  type        = string
  default     = "ireports"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_name))
    error_message = "db_name must be a lower-case identifier of at most 63 characters."
  }
}

variable "db_username" {
  description = "Master user of the database; its password is generated and kept in SSM. Only the coordinator's boot script connects as it (migrations, creating the ireports_viz and ireports_writer roles)."
  type        = string
  default     = "ireports"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,62}$", var.db_username)) && !contains(["postgres", "rdsadmin", "admin", "ireports_viz", "ireports_writer"], var.db_username)
    error_message = "db_username must be a lower-case identifier, not a reserved name (postgres, rdsadmin, admin) nor that of another role (ireports_viz, ireports_writer)."
  }
}

variable "db_multi_az" {
  description = "Run the database with a standby in a second zone."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Refuse to delete the database. Set false (and apply) before terraform destroy."
  type        = bool
  default     = true
}

variable "db_backup_retention_days" {
  description = "Days of automated database backups."
  type        = number
  default     = 7

  validation {
    condition     = var.db_backup_retention_days >= 1 && var.db_backup_retention_days <= 35
    error_message = "db_backup_retention_days must be from 1 to 35."
  }
}

variable "pyroscope_version" {
  description = "Grafana Pyroscope release to run on the profiling server (a GitHub release tag without the v)."
  type        = string
  default     = "1.10.0"

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.pyroscope_version))
    error_message = "pyroscope_version must be a version such as 1.10.0."
  }
}
