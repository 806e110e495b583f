// Package terraform holds no Go code: this directory is the AWS deployment of ireports
// (README.md here), and this package exists for its static checks.
//
// Providers cannot be downloaded in CI, so `terraform validate` cannot run. The tests in
// terraform_test.go stand in for it and go further: every .tf file parses and is formatted,
// every reference resolves, every variable and output is documented, no secret reaches
// user-data or an output, and each boot script under templates/ renders to systemd command
// lines that the real binaries' flag sets (coordinatorcli.ServeFlags, workercli.Flags,
// viz.CommandFlags) accept, on ports the security groups open. A flag renamed in Go, or a
// template that passes one the binary lacks, fails `go test ./terraform` before it fails a
// boot. security_test.go checks what the deployment exposes (see its tests).
//
// Rules for editing the deployment:
//   - templates are rendered with templatefile(); every ${name} in one must be a key of its
//     templatefile() call, and every key must be used;
//   - a daemon's command line is the ExecStart= of its systemd unit in the template;
//   - secrets (random_* results) may flow only into aws_ssm_parameter values and the RDS
//     password; instances read them at boot by parameter name, into 0600 files, shell
//     variables or the environment of one command, never onto a command line (ps shows
//     those to every local user);
//   - the RDS master password is used only by the coordinator's boot script (migrations,
//     roles); viz connects as the read-only role through --db-file, the coordinator daemon
//     as the writer role, and no daemon's environment holds the master password or PG*
//     variables (jobs read the coordinator's environment through env());
//   - a flag the templates pass before its binary defines it goes in pendingFlags in the
//     test, and comes out when the flag lands.
package terraform
