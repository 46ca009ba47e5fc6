// Package step is the contract every driftless binary follows.
//
// A step is declared once as a Definition (its inputs and outputs) and run
// with Run. The package resolves inputs (flag > INPUT_<NAME> > DRIFTLESS_<NAME>
// > the pipeline spec > default), detects the CI context (GitHub Actions,
// GitLab CI, or the local Git repository), writes outputs ($GITHUB_OUTPUT, a
// GitLab dotenv file, or one JSON object on stdout), appends the Markdown step
// summary, emits annotations, masks secrets, keeps every other line the step
// prints from being read as a GitHub workflow command (command.go), and maps
// errors to the exit codes of the contract: 0 done, 1 the check or
// deployment failed, 2 it could not run.
//
// All GitHub Actions I/O goes through github.com/sethvargo/go-githubactions,
// built from the injected environment and writers, so tests never touch the
// real process environment.
package step
