package raftlayer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rctdb/rctdb/protocol"
)

// State is the replicated cluster state. It is changed only by applying
// commands, identically on every node.
type State struct {
	ClusterID string      `json:"cluster_id"`
	Nodes     []NodeState `json:"nodes"` // index = pnn
	// Tunables holds cluster-wide values that differ from the defaults,
	// keyed by the canonical tunable name.
	Tunables map[string]uint32 `json:"tunables,omitempty"`
	// NodeTunables holds each node's own values (pnn -> canonical name ->
	// value) where they differ from the cluster-wide ones: SET_TUNABLE
	// changes the node it is addressed to, as in ctdbd.
	NodeTunables map[uint32]map[string]uint32 `json:"node_tunables,omitempty"`
	View         RuntimeView                  `json:"view"`
	// DBs are the attached databases by id; every node attaches them all.
	DBs map[uint32]DBState `json:"dbs,omitempty"`
	// DBOrder lists database ids in attach order (GET_DBMAP shows the most
	// recent first).
	DBOrder []uint32 `json:"db_order,omitempty"`

	// PublicAddrs are the nodes' reports of their public addresses, by
	// pnn; IPAssign holds the holder of each public address the leader
	// assigned (address -> pnn), and IPSeq counts the assignments
	// committed.
	PublicAddrs map[uint32]NodeAddresses `json:"public_addrs,omitempty"`
	IPAssign    map[string]uint32        `json:"ip_assign,omitempty"`
	IPSeq       uint64                   `json:"ip_seq,omitempty"`

	// tunables is every tunable's cluster-wide value (defaults and
	// Tunables), kept by rebuild so that readers index a typed struct
	// instead of looking names up.
	tunables protocol.TunableList
	// nodeTunables are the effective values of the nodes that have
	// values of their own. rebuild replaces the map, never changes it,
	// so clones share it.
	nodeTunables map[uint32]*protocol.TunableList
}

// DBState is an attached database.
type DBState struct {
	Name string `json:"name"`
	// Flags are CTDB_DB_FLAGS_* (PERSISTENT, REPLICATED; READONLY and
	// STICKY once set).
	Flags uint8 `json:"flags"`
}

// NodeState is one node's replicated state.
type NodeState struct {
	PNN     uint32 `json:"pnn"`
	Addr    string `json:"addr"`
	Deleted bool   `json:"deleted,omitempty"`
	// RemovedAddr is the address a deleted node had, kept only so that
	// the nodes file can show it commented out.
	RemovedAddr string `json:"removed_addr,omitempty"`
	// BannedUntil is the ban's expiry as Unix nanoseconds (wall clock of the
	// node that issued it); 0 when not banned. BanSeconds is the ban's length.
	BannedUntil int64  `json:"banned_until,omitempty"`
	BanSeconds  uint32 `json:"ban_seconds,omitempty"`
	Stopped     bool   `json:"stopped,omitempty"`
	Disabled    bool   `json:"disabled,omitempty"`
	// Capabilities as the node reported them (CTDB_CAP_*); 0 until it did,
	// which counts as the default capabilities.
	Capabilities uint32 `json:"capabilities,omitempty"`
	// Incarnation identifies the node's current run of its daemon, as
	// it reported it; 0 until it did.
	Incarnation uint64 `json:"incarnation,omitempty"`
	// HealthyIncarnation is the incarnation whose monitor event last
	// passed, 0 after one failed: a node is healthy only in the run of
	// its daemon that said so (see Healthy).
	HealthyIncarnation uint64 `json:"healthy_incarnation,omitempty"`
}

// Banned reports whether the node is banned.
func (n *NodeState) Banned() bool { return n.BannedUntil != 0 }

// Caps returns the node's capabilities, defaulting to CapDefault.
func (n *NodeState) Caps() uint32 {
	if n.Capabilities == 0 {
		return protocol.CapDefault
	}
	return n.Capabilities
}

// AdminFlags returns the administrative NODE_FLAGS_* bits of the node.
func (n *NodeState) AdminFlags() uint32 {
	var f uint32
	if n.Deleted {
		f |= protocol.NodeFlagDeleted
	}
	if n.Banned() {
		f |= protocol.NodeFlagBanned
	}
	if n.Stopped {
		f |= protocol.NodeFlagStopped
	}
	if n.Disabled {
		f |= protocol.NodeFlagPermanentlyDisabled
	}
	return f
}

// RuntimeView is what the leader decided about the running cluster.
type RuntimeView struct {
	// Generation of the vnn map; protocol.InvalidGeneration before the first
	// view.
	Generation uint32   `json:"generation"`
	VNNMap     []uint32 `json:"vnn_map"`
	// Disconnected lists pnns, sorted.
	Disconnected []uint32 `json:"disconnected,omitempty"`
	// DecidedBy is the leader that committed the view.
	DecidedBy uint32 `json:"decided_by"`
	// Seq counts committed views; a view is applied only over the one it was
	// computed from, so a deposed leader's stale view cannot land.
	Seq uint64 `json:"seq"`
	// Recovering is set while the databases are being recovered for this
	// generation: every node keeps its volatile databases frozen until a
	// view without it is committed.
	Recovering bool `json:"recovering,omitempty"`
	// RecoverFrom lists the nodes that held the records when this
	// recovery began (Members of the last recovered generation): only
	// their copies count, so that a node returning with old copies cannot
	// bring back what the cluster changed or deleted without it.
	RecoverFrom []uint32 `json:"recover_from,omitempty"`
	// Members are the nodes, each in the incarnation it had then, whose
	// databases the last completed recovery made agree; they hold the
	// records of this generation. A node that restarted since is not a
	// member: its volatile files are new and empty.
	Members []Member `json:"members,omitempty"`
}

// Member is a node in one incarnation (one run of its daemon).
type Member struct {
	PNN         uint32 `json:"pnn"`
	Incarnation uint64 `json:"incarnation"`
}

// IsMember reports whether node pnn in incarnation inc is a member.
func (v *RuntimeView) IsMember(pnn uint32, inc uint64) bool {
	return slices.Contains(v.Members, Member{PNN: pnn, Incarnation: inc})
}

// MemberPNNs lists the members' pnns.
func (v *RuntimeView) MemberPNNs() []uint32 {
	out := make([]uint32, 0, len(v.Members))
	for _, m := range v.Members {
		out = append(out, m.PNN)
	}
	return out
}

// MembersNow returns pnns as members in the incarnations s records.
func (s *State) MembersNow(pnns []uint32) []Member {
	out := make([]Member, 0, len(pnns))
	for _, p := range pnns {
		m := Member{PNN: p}
		if int(p) < len(s.Nodes) {
			m.Incarnation = s.Nodes[p].Incarnation
		}
		out = append(out, m)
	}
	return out
}

// Flags returns the NODE_FLAGS_* of pnn: administrative flags plus the
// runtime flags of the committed view.
func (s *State) Flags(pnn uint32) uint32 {
	if int(pnn) >= len(s.Nodes) {
		return protocol.NodeFlagDeleted
	}
	f := s.Nodes[pnn].AdminFlags()
	if s.Nodes[pnn].Deleted {
		// As in ctdbd, a deleted node is never connected.
		return f | protocol.NodeFlagDisconnected
	}
	if slices.Contains(s.View.Disconnected, pnn) {
		// As ctdbd shows a dead node.
		f |= protocol.NodeFlagDisconnected | protocol.NodeFlagUnhealthy
	}
	if !s.Healthy(pnn) {
		f |= protocol.NodeFlagUnhealthy
	}
	return f
}

// Active lists the pnns without any inactive flag, ascending.
func (s *State) Active() []uint32 {
	var act []uint32
	for i := range s.Nodes {
		if s.Flags(uint32(i))&protocol.NodeFlagsInactive == 0 {
			act = append(act, uint32(i))
		}
	}
	return act
}

// TunablesOf returns the effective tunables of node pnn: its own value,
// else the cluster-wide one, else the default. A node's timers and limits
// follow its own values; what the leader decides follows the leader's.
// The values belong to the state: read them, never write them.
func (s *State) TunablesOf(pnn uint32) *protocol.TunableValues { return s.tunableList(pnn).Values() }

// TunableListOf returns node pnn's effective tunables, as GET_ALL_TUNABLES
// sends them.
func (s *State) TunableListOf(pnn uint32) protocol.TunableList { return *s.tunableList(pnn) }

// TunableByName returns node pnn's effective value of a tunable by
// case-insensitive name, for the controls that name one (GET_TUNABLE).
func (s *State) TunableByName(pnn uint32, name string) (uint32, bool) {
	return s.tunableList(pnn).Get(name)
}

func (s *State) tunableList(pnn uint32) *protocol.TunableList {
	if l, ok := s.nodeTunables[pnn]; ok {
		return l
	}
	return &s.tunables
}

// rebuild recomputes what the state derives from its fields (the tunable
// values); it runs after every change of them and after decoding a
// snapshot. Values of a node that is gone count for nothing.
func (s *State) rebuild() {
	s.tunables = protocol.DefaultTunables()
	overlayTunables(&s.tunables, s.Tunables)
	s.nodeTunables = nil
	for pnn, own := range s.NodeTunables {
		if len(own) == 0 || int(pnn) >= len(s.Nodes) || s.Nodes[pnn].Deleted {
			continue
		}
		l := s.tunables
		overlayTunables(&l, own)
		if s.nodeTunables == nil {
			s.nodeTunables = make(map[uint32]*protocol.TunableList)
		}
		s.nodeTunables[pnn] = &l
	}
}

func overlayTunables(l *protocol.TunableList, values map[string]uint32) {
	for _, def := range protocol.Tunables {
		if v, ok := values[def.Name]; ok {
			l[def.Field] = v
		}
	}
}

// setTunable applies CmdSetTunable: the cluster-wide value, which also
// replaces the nodes' own values of that tunable, so that after it every
// node has it.
func (s *State) setTunable(c *CmdSetTunable) error {
	i, ok := protocol.TunableIndex(c.Name)
	if !ok {
		return reject("unknown tunable %q", c.Name)
	}
	name := protocol.Tunables[i].Name
	if c.Value == protocol.Tunables[i].Default {
		delete(s.Tunables, name)
	} else {
		if s.Tunables == nil {
			s.Tunables = make(map[string]uint32)
		}
		s.Tunables[name] = c.Value
	}
	for pnn, own := range s.NodeTunables {
		delete(own, name)
		if len(own) == 0 {
			delete(s.NodeTunables, pnn)
		}
	}
	s.rebuild()
	return nil
}

// setNodeTunable applies CmdSetNodeTunable. A value equal to the
// cluster-wide one is not kept: it would mean the same.
func (s *State) setNodeTunable(c *CmdSetNodeTunable) error {
	if _, err := s.node(c.PNN); err != nil {
		return err
	}
	i, ok := protocol.TunableIndex(c.Name)
	if !ok {
		return reject("unknown tunable %q", c.Name)
	}
	def := protocol.Tunables[i]
	own := s.NodeTunables[c.PNN]
	if c.Value == s.tunables[def.Field] {
		delete(own, def.Name)
	} else {
		if own == nil {
			own = make(map[string]uint32)
			if s.NodeTunables == nil {
				s.NodeTunables = make(map[uint32]map[string]uint32)
			}
			s.NodeTunables[c.PNN] = own
		}
		own[def.Name] = c.Value
	}
	if len(own) == 0 {
		delete(s.NodeTunables, c.PNN)
	}
	s.rebuild()
	return nil
}

// Clone returns a deep copy.
func (s *State) Clone() *State {
	c := *s
	c.Nodes = slices.Clone(s.Nodes)
	c.Tunables = maps.Clone(s.Tunables)
	if s.NodeTunables != nil {
		c.NodeTunables = make(map[uint32]map[string]uint32, len(s.NodeTunables))
		for pnn, own := range s.NodeTunables {
			c.NodeTunables[pnn] = maps.Clone(own)
		}
	}
	c.View.VNNMap = slices.Clone(s.View.VNNMap)
	c.View.Disconnected = slices.Clone(s.View.Disconnected)
	c.View.RecoverFrom = slices.Clone(s.View.RecoverFrom)
	c.View.Members = slices.Clone(s.View.Members)
	if s.DBs != nil {
		c.DBs = make(map[uint32]DBState, len(s.DBs))
		for k, v := range s.DBs {
			c.DBs[k] = v
		}
	}
	c.DBOrder = slices.Clone(s.DBOrder)
	c.PublicAddrs = maps.Clone(s.PublicAddrs) // the reports inside are never modified
	c.IPAssign = maps.Clone(s.IPAssign)
	return &c
}

// BootstrapState is the state before any command: the nodes of the nodes
// file, no flags, every non-deleted node in the vnn map with the invalid
// generation (as ctdbd starts).
func BootstrapState(clusterID string, nodes []NodeState) *State {
	s := &State{ClusterID: clusterID, Nodes: slices.Clone(nodes)}
	s.rebuild()
	s.View.Generation = protocol.InvalidGeneration
	for _, n := range nodes {
		if !n.Deleted {
			s.View.VNNMap = append(s.View.VNNMap, n.PNN)
		}
	}
	return s
}

// ErrRejected wraps every reason the state machine refuses a command.
type ErrRejected struct{ Reason string }

func (e *ErrRejected) Error() string { return "rejected: " + e.Reason }

func reject(format string, args ...any) error {
	return &ErrRejected{Reason: fmt.Sprintf(format, args...)}
}

func (s *State) node(pnn uint32) (*NodeState, error) {
	if !s.Initialized() {
		return nil, reject("cluster not initialised")
	}
	if int(pnn) >= len(s.Nodes) {
		return nil, reject("node %d does not exist", pnn)
	}
	n := &s.Nodes[pnn]
	if n.Deleted {
		return nil, reject("node %d is deleted", pnn)
	}
	return n, nil
}

// Initialized reports whether CmdInit was applied.
func (s *State) Initialized() bool { return s.ClusterID != "" }

// Apply changes the state by one command. It must be deterministic: every
// node applies the same commands in the same order and ends equal.
func (s *State) Apply(c Command) error {
	switch c := c.(type) {
	case *CmdNoop:
		return nil
	case *CmdInit:
		if s.ClusterID != "" {
			if s.ClusterID != c.ClusterID {
				return reject("cluster id is %q, not %q", s.ClusterID, c.ClusterID)
			}
			return nil // a second leader's init of the same cluster
		}
		if c.ClusterID == "" || len(c.Nodes) == 0 {
			return reject("init needs a cluster id and nodes")
		}
		for i, n := range c.Nodes {
			if n.PNN != uint32(i) {
				return reject("init: node %d listed at index %d", n.PNN, i)
			}
		}
		*s = *BootstrapState(c.ClusterID, c.Nodes)
		return nil
	case *CmdBan:
		n, err := s.node(c.PNN)
		if err != nil {
			return err
		}
		if c.Seconds == 0 {
			n.BannedUntil, n.BanSeconds = 0, 0
			return nil
		}
		n.BannedUntil, n.BanSeconds = c.Until, c.Seconds
		return nil
	case *CmdExpireBan:
		n, err := s.node(c.PNN)
		if err != nil {
			return err
		}
		// Only the ban that was seen expiring is lifted; a newer ban stays.
		if n.BannedUntil == c.Until {
			n.BannedUntil, n.BanSeconds = 0, 0
		}
		return nil
	case *CmdSetStopped:
		n, err := s.node(c.PNN)
		if err != nil {
			return err
		}
		n.Stopped = c.Stopped
		return nil
	case *CmdSetDisabled:
		n, err := s.node(c.PNN)
		if err != nil {
			return err
		}
		n.Disabled = c.Disabled
		return nil
	case *CmdSetCapabilities:
		n, err := s.node(c.PNN)
		if err != nil {
			return err
		}
		n.Capabilities = c.Capabilities
		if c.Incarnation != 0 {
			n.Incarnation = c.Incarnation
		}
		return nil
	case *CmdSetTunable:
		return s.setTunable(c)
	case *CmdSetNodeTunable:
		return s.setNodeTunable(c)
	case *CmdSetView:
		if !s.Initialized() {
			return reject("cluster not initialised")
		}
		v := c.View
		if v.Generation == protocol.InvalidGeneration || v.Generation == 0 {
			return reject("view generation %d is invalid", v.Generation)
		}
		for _, p := range slices.Concat(v.VNNMap, v.Disconnected, v.RecoverFrom, v.MemberPNNs()) {
			if int(p) >= len(s.Nodes) {
				return reject("view names node %d, which does not exist", p)
			}
		}
		if c.PrevSeq != s.View.Seq {
			return reject("view was computed against view %d, current is %d", c.PrevSeq, s.View.Seq)
		}
		s.View = RuntimeView{
			Generation:   v.Generation,
			VNNMap:       slices.Clone(v.VNNMap),
			Disconnected: sortedUnique(v.Disconnected),
			DecidedBy:    v.DecidedBy,
			Seq:          s.View.Seq + 1,
			Recovering:   v.Recovering,
			RecoverFrom:  sortedUnique(v.RecoverFrom),
			Members:      slices.Clone(v.Members),
		}
		return nil
	case *CmdAttachDB:
		return s.attachDB(c)
	case *CmdDetachDB:
		if _, ok := s.DBs[c.ID]; !ok {
			return reject("database 0x%08x is not attached", c.ID)
		}
		delete(s.DBs, c.ID)
		s.DBOrder = slices.DeleteFunc(s.DBOrder, func(id uint32) bool { return id == c.ID })
		return nil
	case *CmdData:
		return nil // for Config.Data
	case *CmdSetNodes:
		if err := s.setNodes(c); err != nil {
			return err
		}
		s.rebuild() // a removed node's own tunables went with it
		return nil
	case *CmdSetNodeAddresses:
		return s.setNodeAddresses(c)
	case *CmdAssignIPs:
		return s.assignIPs(c)
	case *CmdSetHealth:
		return s.setHealth(c)
	case *CmdSetDBFlags:
		db, ok := s.DBs[c.ID]
		if !ok {
			return reject("database 0x%08x is not attached", c.ID)
		}
		db.Flags |= c.Set
		s.DBs[c.ID] = db
		return nil
	}
	return reject("unknown command %T", c)
}

// dbKindFlags are the flags fixed at attach time.
const dbKindFlags = protocol.DBFlagPersistent | protocol.DBFlagReplicated

// attachDB records a database; attaching an attached name is a no-op when
// the kinds agree, as ctdbd answers such an attach with the existing id.
func (s *State) attachDB(c *CmdAttachDB) error {
	if !s.Initialized() {
		return reject("cluster not initialised")
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "/\x00") {
		return reject("invalid database name %q", c.Name)
	}
	id := protocol.DBID(c.Name)
	if db, ok := s.DBs[id]; ok {
		if db.Name != c.Name {
			return reject("database %q has the id 0x%08x of attached database %q", c.Name, id, db.Name)
		}
		if db.Flags&dbKindFlags != c.Flags&dbKindFlags {
			return reject("database %q is attached with flags 0x%x, not 0x%x", c.Name, db.Flags&dbKindFlags, c.Flags&dbKindFlags)
		}
		return nil
	}
	if s.DBs == nil {
		s.DBs = make(map[uint32]DBState)
	}
	s.DBs[id] = DBState{Name: c.Name, Flags: c.Flags & dbKindFlags}
	s.DBOrder = append(s.DBOrder, id)
	return nil
}

func sortedUnique(p []uint32) []uint32 {
	out := slices.Clone(p)
	slices.Sort(out)
	return slices.Compact(out)
}

// String summarises the state for logs.
func (s *State) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %q gen %d vnnmap %v", s.ClusterID, s.View.Generation, s.View.VNNMap)
	for i := range s.Nodes {
		fmt.Fprintf(&b, " %d:%s", i, protocol.NodeFlagsString(s.Flags(uint32(i))))
	}
	return b.String()
}

// BanRemaining returns the seconds left of pnn's ban at now (rounded up), or
// 0 when it is not banned.
func (s *State) BanRemaining(pnn uint32, now time.Time) uint32 {
	if int(pnn) >= len(s.Nodes) || !s.Nodes[pnn].Banned() {
		return 0
	}
	left := time.Unix(0, s.Nodes[pnn].BannedUntil).Sub(now)
	if left <= 0 {
		return 0
	}
	return uint32((left + time.Second - 1) / time.Second)
}

// Quorum says whether this node is in contact with a Raft quorum: while
// it is not (INACTIVE), it acts on nothing it believes. The election
// provides it.
type Quorum interface {
	Inactive() bool
	InactiveChanged() <-chan struct{}
}
