/// What the pool knows about one connection when it picks where a query goes.
protocol PipelineLoad {
    /// Queries sent (or about to be) and not yet answered.
    var queriesInFlight: Int { get }
    /// When the connection last answered a query, or became busy after being idle
    /// (``EventLoop/monotonicNanos()``).
    var lastProgressNanos: UInt64 { get }
}

/// Where the pool sends a query: the policy alone, so it can be tested without a server.
///
/// Queries are packed into few pipelines: the first connection (in pool order) with fewer than
/// `preferredDepth` queries in flight gets the next one. Packed pipelines travel in batches: one
/// `send`, one server wake-up and one `recv` carry many queries, where spreading every query over
/// the least-loaded connection gives batches of one or two under moderate load. On the 2-core
/// benchmark machine packing is worth about a quarter more throughput (BENCHMARKS.md).
///
/// A connection that has queries in flight but has answered none for `stallNanos` gets no more
/// while another connection answers: a slow statement at the head of its pipeline would hold up
/// everything queued behind it. When every connection is at the preferred depth, the least-loaded
/// one that answers is used (a stalled one only when all are stalled), and the pool opens another.
struct ConnectionPicker {
    /// Queries packed onto one connection before the next connection is used.
    var preferredDepth: Int
    /// How long a busy connection may go without answering before it is treated as stalled.
    var stallNanos: UInt64

    struct Choice: Equatable {
        var index: Int
        /// The connection's load before this query.
        var load: Int
        /// Whether every connection was full or stalled (the pool should grow).
        var saturated: Bool
    }

    func choose<Connection: PipelineLoad>(_ connections: [Connection], now: UInt64) -> Choice? {
        // The least-loaded connection that still answers, should none have room below the
        // preferred depth; a stalled one only when every connection is stalled.
        var answering: (index: Int, load: Int)?
        for (index, connection) in connections.enumerated() {
            let load = connection.queriesInFlight
            guard load == 0 || now &- connection.lastProgressNanos <= stallNanos else { continue }
            if load < preferredDepth { return Choice(index: index, load: load, saturated: false) }
            if load < answering?.load ?? Int.max { answering = (index, load) }
        }
        return (answering ?? Self.leastLoaded(connections)).map { Choice(index: $0.index, load: $0.load, saturated: true) }
    }

    /// The connection with the fewest queries in flight (the first idle one, if any) and its load.
    static func leastLoaded<Connection: PipelineLoad>(_ connections: [Connection]) -> (index: Int, load: Int)? {
        var best: (index: Int, load: Int)?
        for (index, connection) in connections.enumerated() {
            let load = connection.queriesInFlight
            if load < best?.load ?? Int.max {
                best = (index, load)
                if load == 0 { break }
            }
        }
        return best
    }
}
