/// What the pool knows about one connection when it picks where a query goes.
protocol PipelineLoad {
    /// Queries sent (or about to be) and not yet answered, a write counting as
    /// ``ConnectionPool/Configuration/writeCost`` once sent.
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
/// benchmark machine packing is worth about a quarter more throughput (Benchmarks/JOURNAL.md).
/// Writes weigh more (``ConnectionPool/Configuration/writeCost``), so that they spread over
/// several server processes sooner: each process runs its statements on one core.
///
/// A connection that has queries in flight but has answered none for `stallNanos` gets no more
/// while another connection answers: a slow statement at the head of its pipeline would hold up
/// everything queued behind it. When every connection is at the preferred depth, the least-loaded
/// one that answers is used (when all look stalled, the one that answered last), and the pool
/// opens another.
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
        // Should none have room below the preferred depth: the least-loaded connection that
        // still answers; when all look stalled (a loaded machine can delay every answer), the
        // one that answered last, never the one stuck longest.
        var answering: (index: Int, load: Int)?
        var latest: (index: Int, load: Int, silence: UInt64)?
        for (index, connection) in connections.enumerated() {
            let load = connection.queriesInFlight
            // `now` is read before the lock, and the I/O thread records progress without it: a
            // progress time after `now` is progress just made, not a silence of 2⁶⁴ ns.
            let progress = connection.lastProgressNanos
            let silence = now > progress ? now - progress : 0
            guard load == 0 || silence <= stallNanos else {
                if silence < latest?.silence ?? UInt64.max { latest = (index, load, silence) }
                continue
            }
            if load < preferredDepth { return Choice(index: index, load: load, saturated: false) }
            if load < answering?.load ?? Int.max { answering = (index, load) }
        }
        if let answering { return Choice(index: answering.index, load: answering.load, saturated: true) }
        return latest.map { Choice(index: $0.index, load: $0.load, saturated: true) }
    }

    /// The connection with the fewest queries in flight (the first idle one, if any), for a
    /// reservation, which should get an idle connection; saturated when none is idle.
    static func leastLoaded<Connection: PipelineLoad>(_ connections: [Connection]) -> Choice? {
        var best: Choice?
        for (index, connection) in connections.enumerated() {
            let load = connection.queriesInFlight
            if load < best?.load ?? Int.max {
                best = Choice(index: index, load: load, saturated: load > 0)
                if load == 0 { break }
            }
        }
        return best
    }
}
