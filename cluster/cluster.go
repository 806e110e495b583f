// Package cluster is ireports' membership layer: every process of a cluster (the coordinator
// and its workers) is a hashicorp/memberlist member that advertises what it is and where to
// reach it in its node metadata, and learns of the others' joins, updates and deaths.
//
// Rules for callers:
//   - Gossip is encrypted with a 32-byte key; Join refuses to start without one unless
//     Config.Insecure is set. A node with another key (or none, against an encrypted
//     cluster, or the reverse) cannot join: Join fails with ErrKeyMismatch, and the member
//     it tried logs an error naming the stranger's address.
//   - memberlist calls its delegates on its own goroutines and must not be blocked, so events
//     are queued without bound here and delivered on the channel returned by Events, which the
//     owner must drain. The queue is small in practice: one entry per membership change.
//   - Shutdown leaves the cluster gracefully (others see a leave, not a death) and is idempotent.
package cluster

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Roles a node can advertise.
const (
	RoleCoordinator = "coordinator"
	RoleWorker      = "worker"
)

// Errors of this package.
var (
	// ErrNoKey: a gossip key is required unless the node is explicitly insecure.
	ErrNoKey = errors.New("no gossip key: give --gossip-key-file (32 bytes, raw, hex or base64) or --insecure")
	// ErrBadKey: the key file does not hold a 32-byte key.
	ErrBadKey = errors.New("gossip key must be 32 bytes (raw, 64 hex digits or base64)")
	// ErrKeyMismatch: the seed and this node do not share a gossip key (or one is
	// encrypted and the other not).
	ErrKeyMismatch = errors.New("gossip key mismatch: every node needs the same --gossip-key-file (or all --insecure)")
)

// keyMismatch lists what memberlist says when the two ends of a gossip exchange do not
// share a key; it has no error values for them.
var keyMismatch = []string{
	"no installed keys could decrypt the message",
	"remote state is encrypted and encryption is not configured",
	"encryption is configured but remote state is not encrypted",
	"Decrypt packet failed",
}

// isKeyMismatch reports whether memberlist's message msg is about a gossip key mismatch.
func isKeyMismatch(msg string) bool {
	for _, m := range keyMismatch {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}

// Meta is what a node advertises in its memberlist metadata (at most 512 bytes encoded).
type Meta struct {
	Role    string `json:"role"`
	API     string `json:"api,omitempty"`     // host:port of its HTTP API (https://host:port with TLS)
	Shuffle string `json:"shuffle,omitempty"` // host:port serving its map outputs (likewise)
	Slots   int    `json:"slots,omitempty"`   // tasks it runs at once
	Version string `json:"version,omitempty"` // the release it runs (internal/version)
	// Protocol is the wire protocol it speaks (version.Protocol); 0 in releases before
	// protocols were numbered. The coordinator gives no task to a worker of another.
	Protocol int `json:"protocol,omitempty"`
}

// Member is one node of the cluster as this node sees it.
type Member struct {
	Name string
	Addr string // gossip host:port
	Meta Meta
}

// EventKind says what happened to a member.
type EventKind uint8

const (
	EventJoin EventKind = iota + 1
	EventUpdate
	// EventLeave: the member left or was declared dead. (memberlist reports both through
	// NotifyLeave, and the node it passes does not tell them apart reliably.)
	EventLeave
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is a membership change.
type Event struct {
	Kind   EventKind
	Member Member
}

// Config configures a member.
type Config struct {
	// Name must be unique in the cluster; default: the host name and the bind port.
	Name string
	// Bind is the gossip address, host:port (TCP and UDP); port 0 picks a free one.
	Bind string
	// Key is the 32-byte gossip encryption key; nil requires Insecure.
	Key      []byte
	Insecure bool
	Meta     Meta
	// Fast shortens failure detection for loopback clusters (tests, `coordinator run`): a
	// dead node is noticed in about 3 s instead of memberlist's LAN default of ~10 s. The
	// probe timeout stays generous because a loaded 2-core machine delays replies by
	// hundreds of milliseconds, and a live worker declared dead loses its running tasks.
	Fast   bool
	Logger *slog.Logger
}

// Membership is this process's view of the cluster.
type Membership struct {
	list   *memberlist.Memberlist
	events chan Event
	log    *slog.Logger

	mu      sync.Mutex // guards queue, meta, closed, members
	queue   []Event
	meta    []byte
	closed  bool
	wake    chan struct{} // signals the pump that queue has entries
	done    chan struct{} // closed by Shutdown: stops the pump
	stopped chan struct{} // closed when the pump has returned
	// members are the live members by name, copied from memberlist's events: its own
	// Members returns pointers into its state, which its gossip goroutines then rewrite.
	members map[string]Member
}

// LoadKey reads a gossip key file: exactly 32 raw bytes, or 64 hex digits, or base64 of 32
// bytes (surrounding whitespace ignored).
func LoadKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("gossip key: %w", err)
	}
	if len(b) == 32 {
		return b, nil
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) == 32 {
		return k, nil
	}
	return nil, fmt.Errorf("%s: %w", path, ErrBadKey)
}

// Join starts a member and joins the cluster through any of seeds (host:port). With no
// seeds it starts a new cluster (the coordinator does this).
func Join(cfg Config, seeds []string) (*Membership, error) {
	if cfg.Key == nil && !cfg.Insecure {
		return nil, ErrNoKey
	}
	if cfg.Key != nil && len(cfg.Key) != 32 {
		return nil, ErrBadKey
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	host, portStr, err := net.SplitHostPort(cfg.Bind)
	if err != nil {
		return nil, fmt.Errorf("gossip bind %q: %w", cfg.Bind, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("gossip bind %q: bad port", cfg.Bind)
	}
	meta, err := json.Marshal(cfg.Meta)
	if err != nil {
		return nil, err
	}
	if len(meta) > memberlist.MetaMaxSize {
		return nil, fmt.Errorf("node metadata is %d bytes, over memberlist's %d", len(meta), memberlist.MetaMaxSize)
	}
	m := &Membership{
		events:  make(chan Event),
		members: map[string]Member{},
		log:     cfg.Logger,
		meta:    meta,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	mc := memberlist.DefaultLANConfig()
	if cfg.Fast {
		mc = memberlist.DefaultLocalConfig()
		mc.ProbeInterval = 500 * time.Millisecond
		mc.ProbeTimeout = 400 * time.Millisecond
		mc.SuspicionMult = 4
		mc.GossipInterval = 100 * time.Millisecond
		// The local config's 1 s bounds the whole TCP join (dial, push/pull, decrypt): on a
		// loaded machine a loopback join can take longer, and a failed join is final.
		mc.TCPTimeout = 10 * time.Second
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertisePort = port
	if cfg.Name == "" {
		cfg.Name = defaultName(host, port)
	}
	mc.Name = cfg.Name
	mc.SecretKey = cfg.Key
	mc.Delegate = (*delegate)(m)
	mc.Events = (*eventDelegate)(m)
	mc.Logger = log.New(&slogWriter{log: cfg.Logger}, "", 0)
	list, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("gossip: %w", err)
	}
	m.list = list
	go m.pump()
	if len(seeds) > 0 {
		if _, err := list.Join(seeds); err != nil {
			m.Shutdown()
			// memberlist's error is a multi-line list; one line per seed reads better.
			msg := strings.Join(strings.Fields(err.Error()), " ")
			if isKeyMismatch(msg) {
				return nil, fmt.Errorf("join %s: %w (%s)", strings.Join(seeds, ","), ErrKeyMismatch, msg)
			}
			return nil, fmt.Errorf("join %s: %w", strings.Join(seeds, ","), err)
		}
	}
	return m, nil
}

// defaultName names a node after its machine and the address it gossips on. Names must be
// unique in a cluster, and several nodes may share a machine: a coordinator and a worker
// bound to different addresses on one port, or processes on free ports (port 0 is not
// known before memberlist binds it, hence a random suffix there).
func defaultName(bindHost string, port int) string {
	name, _ := os.Hostname()
	if ip := net.ParseIP(bindHost); ip != nil && !ip.IsUnspecified() {
		name += "-" + ip.String()
	}
	if port == 0 {
		return fmt.Sprintf("%s-%08x", name, rand.Uint32())
	}
	return fmt.Sprintf("%s-%d", name, port)
}

// Addr is this member's gossip address, host:port.
func (m *Membership) Addr() string {
	n := m.list.LocalNode()
	return net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port)))
}

// Join contacts seeds to (re)join their cluster, as New does at start. A member whose
// peers all died or restarted has no one left to gossip with: joining the seeds again is
// how it finds a coordinator that came back on the same address.
func (m *Membership) Join(seeds []string) error {
	_, err := m.list.Join(seeds)
	return err
}

// Name is this member's name.
func (m *Membership) Name() string { return m.list.LocalNode().Name }

// Events delivers membership changes in the order memberlist reported them. The owner must
// keep reading it until Shutdown.
func (m *Membership) Events() <-chan Event { return m.events }

// Members returns the live members, this one included, in no particular order.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mb := range m.members {
		out = append(out, mb)
	}
	return out
}

// UpdateMeta changes this node's advertised metadata and gossips it.
func (m *Membership) UpdateMeta(meta Meta, timeout time.Duration) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.meta = b
	m.mu.Unlock()
	return m.list.UpdateNode(timeout)
}

// Shutdown leaves the cluster (telling the others, for up to timeout) and stops gossiping.
// Teardown order: leave while the transport still runs, then shut memberlist down, then stop
// the event pump so no event is delivered after Shutdown returns.
func (m *Membership) Shutdown() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	var err error
	if m.list != nil {
		m.list.Leave(time.Second)
		err = m.list.Shutdown()
	}
	close(m.done)
	<-m.stopped
	return err
}

// pump moves queued events to the events channel; it owns that channel.
func (m *Membership) pump() {
	defer close(m.stopped)
	for {
		m.mu.Lock()
		var next *Event
		if len(m.queue) > 0 {
			e := m.queue[0]
			m.queue = m.queue[1:]
			next = &e
		}
		m.mu.Unlock()
		if next == nil {
			select {
			case <-m.wake:
				continue
			case <-m.done:
				return
			}
		}
		select {
		case m.events <- *next:
		case <-m.done:
			return
		}
	}
}

// enqueue queues an event for the pump and notes the member's state. memberlist calls it
// (through eventDelegate) holding its lock on n, so n is read whole here.
func (m *Membership) enqueue(kind EventKind, n *memberlist.Node) {
	mb := toMember(n)
	m.mu.Lock()
	if kind == EventLeave {
		delete(m.members, mb.Name)
	} else {
		m.members[mb.Name] = mb
	}
	if !m.closed {
		m.queue = append(m.queue, Event{Kind: kind, Member: mb})
	}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func toMember(n *memberlist.Node) Member {
	var meta Meta
	json.Unmarshal(n.Meta, &meta) // a node with unreadable metadata has an empty role and is ignored
	return Member{Name: n.Name, Addr: net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))), Meta: meta}
}

// eventDelegate receives memberlist's events; it only queues them.
type eventDelegate Membership

var _ memberlist.EventDelegate = (*eventDelegate)(nil)

func (d *eventDelegate) NotifyJoin(n *memberlist.Node)   { (*Membership)(d).enqueue(EventJoin, n) }
func (d *eventDelegate) NotifyUpdate(n *memberlist.Node) { (*Membership)(d).enqueue(EventUpdate, n) }
func (d *eventDelegate) NotifyLeave(n *memberlist.Node)  { (*Membership)(d).enqueue(EventLeave, n) }

// delegate supplies this node's metadata; ireports sends no user messages over gossip.
type delegate Membership

var _ memberlist.Delegate = (*delegate)(nil)

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.meta...)
}
func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

// slogWriter adapts memberlist's log.Logger output to slog, at debug level except for
// errors and warnings, which memberlist prefixes with [ERR] and [WARN], and for messages
// from a node with another gossip key, which are errors an operator must see.
// A stranger's every packet is refused, so the error is logged at most once a minute.
type slogWriter struct {
	log *slog.Logger

	mu       sync.Mutex // guards mismatch
	mismatch time.Time  // when a key mismatch was last logged as an error
}

var _ io.Writer = (*slogWriter)(nil)

// loud reports whether a key mismatch is due to be logged as an error, and notes it.
func (w *slogWriter) loud() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if time.Since(w.mismatch) < time.Minute {
		return false
	}
	w.mismatch = time.Now()
	return true
}

func (w *slogWriter) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	switch {
	// The text goes under its own key: a second "msg" would make a JSON log line with a
	// duplicate key, which log stores read as they please.
	case isKeyMismatch(msg) && w.loud():
		w.log.Error("gossip key mismatch? a node that does not share this one's gossip key tried to talk to it and is not admitted; "+
			"every node needs the same --gossip-key-file", "memberlist", msg)
	case isKeyMismatch(msg):
		w.log.Debug("memberlist", "detail", msg)
	case strings.Contains(msg, "[ERR]"):
		w.log.Warn("memberlist", "detail", msg)
	case strings.Contains(msg, "[WARN]"):
		w.log.Info("memberlist", "detail", msg)
	default:
		w.log.Debug("memberlist", "detail", msg)
	}
	return len(p), nil
}
