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
