package worker

import "github.com/ireports/ireports/shuffle"

// SetShuffleToken makes the worker started with cfg serve its map outputs only to clients
// that present token, and present token when it fetches other workers' map outputs, while
// its calls to the coordinator keep cfg.Token: a worker whose shuffle disagrees with the
// rest of the cluster, which a real deployment reaches only through a token changed on
// some nodes between two jobs. Tests only.
func SetShuffleToken(cfg *Config, token string) { cfg.shuffleToken = token }

// WrapFetcher makes the worker started with cfg read its reduce tasks' input through
// wrap(f), where f is the fetcher it would use: a test injects faults there, at the
// boundary of worker and shuffle. Tests only.
func WrapFetcher(cfg *Config, wrap func(shuffle.Fetcher) shuffle.Fetcher) { cfg.wrapFetcher = wrap }
