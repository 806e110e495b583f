package worker

// SetShuffleToken makes the worker started with cfg serve its map outputs only to clients
// that present token, and present token when it fetches other workers' map outputs, while
// its calls to the coordinator keep cfg.Token: a worker whose shuffle disagrees with the
// rest of the cluster, which a real deployment reaches only through a token changed on
// some nodes between two jobs. Tests only.
func SetShuffleToken(cfg *Config, token string) { cfg.shuffleToken = token }
