extension ConnectionPool {
    /// How a ``ConnectionPool`` opens, shares and replaces connections.
    public struct Configuration: Sendable {
        /// Connections kept open once the pool has been used, and re-opened after a failure.
        /// Default 1.
        public var minimumConnections: Int = 1
        /// The most connections the pool opens. Default 4.
        public var maximumConnections: Int = 4
        /// The most queries in flight on one connection at once (its pipeline depth). Callers
        /// beyond `maximumConnections * maximumPipelineDepth` wait. Default 128.
        public var maximumPipelineDepth: Int = 128
        /// How many queries the pool packs into one connection's pipeline before it uses the next
        /// connection. Packed pipelines travel in batches (one send and one server wake-up for many
        /// queries), which is what makes pipelining pay; a connection that stops answering for a
        /// millisecond is not packed further, so a slow statement holds up little behind it.
        /// Lower it (down to 1, which spreads every query over the least-loaded connection) when
        /// the server has many idle cores and latency matters more than throughput. Default 64.
        ///
        /// Why 64 and not less: where PostgreSQL shares a few cores with the application, every
        /// further busy server process competes with the pool's I/O thread for a core, and the
        /// loser waits out a scheduler time slice (milliseconds) with a whole pipeline behind it.
        /// On the 2-core benchmark machine, 64 gets in flight over one connection instead of two
        /// of 32 brought p99 from 2.6-8.7 ms down to 1.1-1.6 ms and the median ratio to pgbench
        /// from 1.24x to 1.45x (Benchmarks/JOURNAL.md).
        public var preferredPipelineDepth: Int = 64
        /// How many queries one statement that is not `readOnly` counts as, once sent, when the
        /// pool packs pipelines (``preferredPipelineDepth``) and bounds them
        /// (``maximumPipelineDepth``). Default 8.
        ///
        /// A server process runs its connection's statements one after another, on one core. A
        /// primary-key read costs it about 10 µs, an UPDATE of a session row with its indexes
        /// about ten times that (Benchmarks/JOURNAL.md): 64 writes packed onto one connection
        /// would keep one server process busy while the others idle, capping the writes at what
        /// one core does. Counted as 8 each, about 8 writes share a connection and the next go to
        /// the next connection. 1 counts writes like reads.
        public var writeCost: Int = 8
        /// How long a caller waits for a connection before failing with
        /// ``PGError/Code/connectionWaitTimeout``. Default 10 seconds.
        public var connectionWaitTimeout: Duration = .seconds(10)
        /// The most callers that may wait for a connection; more fail at once with
        /// ``PGError/Code/tooManyWaiters``. Default 10,000.
        public var maximumWaiters: Int = 10_000
        /// How long a connection attempt may take, unless the connection string sets
        /// `connect_timeout`. Default 10 seconds.
        public var connectTimeout: Duration = .seconds(10)
        /// The first delay before reconnecting after a failed attempt; it doubles with every failure
        /// up to ``maximumReconnectDelay``. Default 50 ms.
        public var initialReconnectDelay: Duration = .milliseconds(50)
        /// The longest delay between reconnection attempts. Default 2 seconds.
        public var maximumReconnectDelay: Duration = .seconds(2)
        /// How long ``ConnectionPool/close()`` lets queries already sent finish. Default 5 seconds.
        public var closeGracePeriod: Duration = .seconds(5)
        /// Whether statements are cached as named prepared statements on each connection (the
        /// default, fastest) or sent unnamed every time, which works through PgBouncer in
        /// transaction mode.
        public var usesNamedStatements: Bool = true

        /// The defaults stated on each property.
        public init() {}
    }
}
