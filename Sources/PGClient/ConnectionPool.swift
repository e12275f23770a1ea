public import Logging
import Synchronization
import CLibPQ

/// A pool of non-blocking libpq connections that many tasks share.
///
/// Queries from concurrent callers are pipelined: a connection carries up to
/// ``Configuration/maximumPipelineDepth`` queries at once, each in its own pipeline segment, so a
/// caller never waits for another caller's round trip and one statement's failure affects only its
/// own caller. Queries are packed into few connections (``Configuration/preferredPipelineDepth``)
/// so they travel in batches; read-only ones may share a segment, and so may writes that allow
/// group commit (see ``query(_:_:readOnly:groupCommitKey:)``). Dead connections are replaced in the
/// background with exponential backoff.
///
/// ```swift
/// let pool = try ConnectionPool(url: "postgresql://app@localhost/app")
/// let rows = try await pool.query("SELECT name FROM users WHERE id = $1", [.int8(42)])
/// let name = try rows.first?.decode(String.self, column: 0)
/// await pool.close()
/// ```
///
/// Call ``close()`` when done: it lets queries in flight finish, closes every connection and stops
/// the pool's I/O thread.
public actor ConnectionPool {
    private struct Waiter {
        let id: Int
        let exclusive: Bool
        let continuation: CheckedContinuation<LibPQConnection, any Error>
        let deadline: ContinuousClock.Instant
    }

    /// The configuration the pool was created with.
    public nonisolated let configuration: Configuration
    nonisolated let loop: EventLoop
    private nonisolated let conninfo: String
    private nonisolated let redactor: SecretRedactor
    private nonisolated let waiting = Atomic<Int>(0)
    /// A copy of `ready` that callers read under a lock, so picking a connection for a query
    /// does not hop onto the actor and back (two thread switches per query). The actor remains
    /// the only writer; anything but the plain case (wait, grow, reserve) goes through it.
    private nonisolated let router = Mutex<[LibPQConnection]>([])
    private nonisolated let growRequested = Atomic<Bool>(false)
    /// Set while a `serveWaiters` hop is on its way: completions need only one at a time (one per
    /// completed query was a task, and at 10,000 waiting callers thousands of them queued up).
    private nonisolated let serveRequested = Atomic<Bool>(false)
    private nonisolated let picker: ConnectionPicker
    private let logger: Logger

    private var connections: [Int: LibPQConnection] = [:]
    private var ready: [LibPQConnection] = []  // open, not reserved by withConnection
    /// Connections being opened: their `ready` (or `closed`) has not reached the pool yet. Always
    /// a subset of `connections`' keys (a close removes a connection from both).
    private var connecting: Set<Int> = []
    private var nextID = 0
    // FIFO: waiters are served, and time out, in arrival order (the wait is the same for all, so
    // arrival order is deadline order and one sleeping task times them all out).
    private var waiters = FIFO<Waiter>()
    /// Where each waiter is in `waiters`, by ID, so a cancelled one is taken out in constant time
    /// (a scan per cancellation made cancelling thousands of waiters quadratic).
    private var waiterPositions: [Int: Int] = [:]
    /// The task that times the waiters out, while there are any. `close()` cancels it: it sleeps
    /// until the first waiter's deadline, even one served long before, and kept a closed pool
    /// from being freed for up to `connectionWaitTimeout`.
    private var timeoutSweeper: Task<Void, Never>?
    private var closed = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    private var loopStopped = false
    private var consecutiveFailures = 0
    private var lastConnectError: PGError?
    private var reconnectScheduled = false

    /// Creates a pool for a libpq connection URL or conninfo string.
    ///
    /// No connection is opened until the first query. Any form libpq accepts works: URLs
    /// (`postgresql://user:secret@host:5432/db?sslmode=require`), `key=value` strings, several
    /// hosts, unix-socket directories, `connect_timeout`.
    ///
    /// - Parameters:
    ///   - url: the connection string. Its password never appears in errors or logs.
    ///   - configuration: sizes, timeouts and backoff; see ``Configuration``.
    ///   - logger: where connection events go. Defaults to a logger that discards everything.
    /// - Throws: ``PGError`` with code ``PGError/Code/invalidConnectionString`` when libpq cannot
    ///   parse `url`.
    public init(url: String, configuration: Configuration = .init(), logger: Logger? = nil) throws {
        let redactor = SecretRedactor(conninfo: url)
        var errorMessage: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(url, &errorMessage) {
            PQconninfoFree(options)
        } else {
            var message = "invalid connection string"
            if let errorMessage {
                message += ": " + redactor.redact(String(cString: errorMessage).trimmingTrailingWhitespace())
                PQfreemem(errorMessage)
            }
            throw PGError(code: .invalidConnectionString, message: message)
        }
        var configuration = configuration
        configuration.maximumConnections = max(1, configuration.maximumConnections)
        configuration.minimumConnections = min(max(0, configuration.minimumConnections), configuration.maximumConnections)
        configuration.maximumPipelineDepth = max(1, configuration.maximumPipelineDepth)
        configuration.preferredPipelineDepth = min(max(1, configuration.preferredPipelineDepth), configuration.maximumPipelineDepth)
        self.picker = ConnectionPicker(preferredDepth: configuration.preferredPipelineDepth, stallNanos: 1_000_000)
        self.configuration = configuration
        self.conninfo = url
        self.redactor = redactor
        self.logger = logger ?? Logger(label: "swift-pgstore.pool", factory: { _ in SwiftLogNoOpLogHandler() })
        self.loop = try EventLoop()
        try loop.start()
    }

    deinit {
        // close() is the way to stop a pool; this only keeps a forgotten pool from leaking its thread.
        let loop = self.loop
        let connections = Array(self.connections.values)
        loop.execute {
            for connection in connections { connection.close(gracePeriod: .zero) }
        }
        loop.shutdown()
    }

    // MARK: Public API

    /// Runs one statement and returns its rows.
    ///
    /// Parameters are bound to `$1`, `$2`, ...; the statement is prepared once per connection and
    /// reused. The query shares a connection with other callers' queries (pipelining).
    ///
    /// Cancelling the calling task returns at once with `CancellationError`; a query already sent
    /// still runs on the server and its result is discarded.
    ///
    /// A statement runs in a pipeline segment of its own (its own implicit transaction), unless
    /// `readOnly` is true: then it may share one with other read-only statements sent at the
    /// same moment on the same connection, which costs the server a fraction of a segment each
    /// (one transaction start and commit, one Sync, one flush for all of them). Should another
    /// statement of a shared segment fail, the server skips the rest of the segment; those are
    /// sent again, each on its own, so a caller never gets another caller's error. A statement
    /// that is not read-only returns once its transaction has committed, and throws if the
    /// commit fails (a deferred constraint, a serialization failure); if the connection is lost
    /// before the commit is confirmed, it throws a connection error and may or may not have
    /// committed.
    ///
    /// With a `groupCommitKey`, a write may share its segment with other such writes sent at the
    /// same moment on the same connection: one transaction, so one commit (and, on a server that
    /// syncs its log, one log flush) for all of them. Should any of them fail, or their commit,
    /// all are rolled back and each runs again on its own, so that each caller gets its own
    /// statement's outcome; a statement must therefore be safe to run a second time after a
    /// rollback, and mean the same in a transaction with others (no `VACUUM`, no `SET`, no
    /// transaction-control statements). Until the commit, the rows it writes stay locked, so a
    /// group's writes are sent in the order of their keys (`String`'s `<`): when each
    /// key names the one row its statement locks, every group locks shared rows in the same
    /// order, and groups on different connections (or in different processes using this
    /// library) wait for each other instead of deadlocking. Without that order, two groups
    /// writing the same rows in opposite orders deadlock, and PostgreSQL breaks the tie only
    /// after `deadlock_timeout` (1 s by default).
    ///
    /// - Parameters:
    ///   - sql: one SQL statement.
    ///   - parameters: values for `$1`, `$2`, ...
    ///   - readOnly: whether the statement changes nothing, as a plain `SELECT`. Leave it
    ///     `false` for anything with side effects: in a shared segment those could be rolled
    ///     back by another caller's failure after reporting success.
    ///   - groupCommitKey: for a write (`readOnly` false) that may commit together with other
    ///     such writes, as described above, what it locks: usually the key of the one row it
    ///     writes. For short single-row writes under concurrent load; `nil` (the default): the
    ///     write commits on its own.
    /// - Returns: the statement's rows (empty for statements that return none).
    /// - Throws: ``PGError`` (query or connection failure, timeout, closed pool), or
    ///   `CancellationError`.
    ///
    /// It runs on the caller's executor (`nonisolated(nonsending)`), as does the rest of the
    /// query path: no hop onto the global executor on the way in and back to the caller's on
    /// the way out. With a task executor preference every such hop takes the task's status-record
    /// lock; a get through the session store (and the benchmark's loop around it) made 12 task
    /// switches, 10 with this.
    public nonisolated(nonsending) func query(
        _ sql: String, _ parameters: [PGValue] = [], readOnly: Bool = false, groupCommitKey: String? = nil
    ) async throws -> QueryResult {
        let encoded = try EncodedParameters(parameters)
        var connection = if let leased = fastLease() { leased } else { try await lease(exclusive: false) }
        var retried = false
        // One call site for run: each inlined copy would enlarge this function's async frame,
        // which every waiting caller keeps allocated.
        while true {
            do {
                return try await run(sql, encoded, readOnly: readOnly, groupCommitKey: groupCommitKey, on: connection)
            } catch let error as PGError where error.wasNotSent && !retried {
                // The connection died before the query left; running it on another is safe.
                retried = true
                connection = try await lease(exclusive: false)
            }
        }
    }

    /// Runs `body` with a connection reserved for it alone, for statements that must share a
    /// session (`BEGIN` ... `COMMIT`, `SET`, advisory locks). The connection goes back to the pool
    /// when `body` returns or throws. When it throws (or its task is cancelled), a `ROLLBACK` is
    /// sent first, so that a transaction it left open never reaches the next caller.
    ///
    /// - Parameter body: the work to run; it must not keep the connection.
    /// - Returns: what `body` returns.
    /// - Throws: what `body` throws, or a ``PGError`` when no connection could be had.
    public nonisolated func withConnection<Result: Sendable>(
        _ body: @Sendable (PGConnection) async throws -> Result
    ) async throws -> Result {
        let connection = try await lease(exclusive: true)
        connection.inFlight.subtract(1, ordering: .relaxed)  // the lease itself is not a query
        do {
            try await waitForLeasedQueries(on: connection)
        } catch {
            giveBack(connection)
            throw error
        }
        do {
            let result = try await body(PGConnection(pool: self, connection: connection))
            giveBack(connection)
            return result
        } catch {
            // A cancelled body never got its own ROLLBACK out (a cancelled caller's statements are
            // not sent), and a connection returned inside a transaction would run other callers'
            // statements in it: uncommitted, holding its locks. So one goes out from a task that
            // is not cancelled. Outside a transaction it is a no-op (the server warns, nothing
            // more); on a dead connection it fails, and the pool replaces the connection.
            await Task {
                connection.addQuery()
                _ = try? await self.run("ROLLBACK", EncodedParameters([]), on: connection)
            }.value
            giveBack(connection)
            throw error
        }
    }

    /// Waits until the queries leased on `connection` before it was reserved are answered.
    ///
    /// Why: a caller leased a connection (a waiter the pool served, or the fast path) sends its
    /// query a moment later, from its own task. Sent after the reserved caller's `BEGIN`, it
    /// would run inside that transaction: gone with its `ROLLBACK` after reporting success, or
    /// failing with 25P02 in an aborted one (seen: 250-600 of 2,000 inserts lost to 100 such
    /// transactions on 2 connections). No new query is leased to a reserved connection, so the
    /// count only falls. Polled: reservations are rare, and the wait is at most the answers
    /// already on their way.
    private nonisolated func waitForLeasedQueries(on connection: LibPQConnection) async throws {
        while connection.inFlight.load(ordering: .sequentiallyConsistent) > 0 {
            try await Task.sleep(for: .microseconds(200))
        }
    }

    /// Closes the pool.
    ///
    /// Callers waiting for a connection fail with ``PGError/Code/poolClosed``; queries already sent
    /// get their results (up to ``Configuration/closeGracePeriod``, after which they fail with
    /// ``PGError/Code/connectionClosed``); every connection is then closed and the I/O thread
    /// stops. Later calls fail with ``PGError/Code/poolClosed``. Calling it again just waits.
    public func close() async {
        if !closed {
            closed = true
            publishReady()
            logger.debug("closing connection pool", metadata: ["connections": "\(connections.count)"])
            failAllWaiters(PGError.poolClosed)
            timeoutSweeper?.cancel()
            let grace = configuration.closeGracePeriod
            for connection in connections.values {
                loop.execute { connection.close(gracePeriod: grace) }
            }
        }
        if connections.isEmpty {
            await stopLoop()
            return
        }
        await withCheckedContinuation { closeWaiters.append($0) }
    }

    /// The pool's I/O thread, as an executor for tasks that mostly wait on this pool.
    ///
    /// By default a caller runs on Swift's global executor and its queries go through the pool's
    /// I/O thread: each answer wakes a worker thread to resume its caller, and each query may wake
    /// the I/O thread. A task that prefers this executor runs on the I/O thread itself, between its
    /// turns at the sockets, so neither wake-up happens:
    ///
    /// ```swift
    /// await withTaskExecutorPreference(pool.taskExecutor) {
    ///     // queries, and the session store's work, run here without thread hops
    /// }
    /// ```
    ///
    /// All such tasks share that one thread, so it suits work that is mostly queries, not work
    /// that needs more than one core. On two cores shared with PostgreSQL it saved the client up
    /// to a fifth of its CPU per session read in the slow phases of 2026-12-01, and about nothing
    /// once the global executor's path had been trimmed (2026-12-03: 10.1 against 10.3 us; see
    /// Benchmarks/JOURNAL.md). Never block in it: a blocked I/O thread stalls every query of the
    /// pool. Once the pool is closed, tasks that still prefer this executor run on the global
    /// executor.
    public nonisolated var taskExecutor: any TaskExecutor { loop }

    /// The number of open or opening connections (for tests and metrics).
    public var connectionCount: Int { connections.count }

    /// The number of callers waiting for a connection (tests use it to wait for a known state
    /// instead of sleeping and hoping).
    var waiterCount: Int { waiters.count }

    /// Counts `connection` as being opened, as opening one does, without connecting it: tests
    /// then report it ready and closed in either order.
    func adoptConnectingForTests(_ connection: LibPQConnection) {
        connections[connection.id] = connection
        connecting.insert(connection.id)
    }

    /// The number of connections open and not reserved, as callers see them (for tests).
    nonisolated var sharedConnectionCount: Int { router.withLock(announcingTo: self) { $0.count } }

    /// Read-only queries sent again because another statement of their shared segment failed,
    /// over the open connections (for tests).
    var resentQueryCount: Int { connections.values.reduce(0) { $0 + $1.resentCount.load(ordering: .relaxed) } }

    /// The number of queries sent (or about to be) and not yet answered, over the connections
    /// open for sharing (for tests). Read without the actor, as a caller picking a connection
    /// reads it.
    nonisolated var inFlightCount: Int {
        router.withLock(announcingTo: self) { $0.reduce(0) { $0 + $1.inFlight.load(ordering: .sequentiallyConsistent) } }
    }

    // MARK: Running queries

    nonisolated(nonsending) func run(
        _ sql: String, _ parameters: EncodedParameters, readOnly: Bool = false, groupCommitKey: String? = nil,
        on connection: LibPQConnection
    ) async throws -> QueryResult {
        let pending = PendingQuery(sql: sql, parameters: parameters, readOnly: readOnly, groupCommitKey: groupCommitKey)
        let loop = self.loop
        // What the I/O thread wrote into the result before resuming us (see ThreadSanitizer).
        defer { ThreadSanitizer.acquire(pending) }
        // The variant that inherits the caller's executor: `withTaskCancellationHandler` takes
        // an `isolation` parameter and switches to it on the way in and out, two task switches
        // per query that this path, which runs on the caller's executor throughout, does not
        // need. With a task executor preference each switch looks the preference up under the
        // task's status-record lock (7 switches and 12 lock rounds per get through the store
        // before, 5 and 10 with this, counted with uprobes).
        return try await _unsafeInheritExecutor_withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { continuation in
                pending.setContinuation(continuation)
                loop.submit(pending, to: connection)
            }
        } onCancel: {
            loop.execute { connection.cancel(pending) }
        }
    }

    // MARK: Leasing

    /// An open connection with room in its pipeline (see ``ConnectionPicker``), without touching
    /// the actor; `nil` sends the caller through ``lease(exclusive:)``.
    private nonisolated func fastLease() -> LibPQConnection? {
        if Task.isCancelled { return nil }
        let maximumDepth = configuration.maximumPipelineDepth
        let now = EventLoop.monotonicNanos()
        let (picked, shouldGrow) = router.withLock(announcingTo: self) { ready -> (LibPQConnection?, Bool) in
            guard let choice = picker.choose(ready, now: now), choice.load < maximumDepth else { return (nil, false) }
            let connection = ready[choice.index]
            connection.addQuery()
            return (connection, choice.saturated && ready.count < configuration.maximumConnections)
        }
        if shouldGrow, !growRequested.exchange(true, ordering: .relaxed) {
            Task { await self.grow() }
        }
        return picked
    }

    private func grow() {
        growRequested.store(false, ordering: .relaxed)
        openConnectionIfNeeded()
    }

    private func publishReady() {
        let snapshot = closed ? [] : ready
        router.withLock(announcingTo: self) { $0 = snapshot }
    }

    /// Picks a connection for one query (or reserves one, when `exclusive`), waiting when none has
    /// room. The connection's in-flight count is already raised on return.
    func lease(exclusive: Bool) async throws -> LibPQConnection {
        let (connection, id) = try connectionOrWaiterID(exclusive: exclusive)
        if let connection { return connection }
        let deadline = ContinuousClock.now + configuration.connectionWaitTimeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiterPositions[id] = waiters.append(Waiter(id: id, exclusive: exclusive, continuation: continuation, deadline: deadline))
                waiting.add(1, ordering: .sequentiallyConsistent)
                if timeoutSweeper == nil {
                    timeoutSweeper = Task { await self.sweepTimeouts() }
                }
                // A query that completed after pick() found no room, but before `waiting` was
                // raised, saw no waiter and scheduled nothing: look once more now that it is.
                serveWaiters()
            }
        } onCancel: {
            Task { await self.removeWaiter(id, error: CancellationError()) }
        }
    }

    /// A connection at once, or the ID under which the caller is to wait; throws when it must
    /// not wait. Out of line, so that the errors it builds stay out of the async frame of
    /// `lease`, which every waiting caller keeps.
    @inline(never)
    private func connectionOrWaiterID(exclusive: Bool) throws -> (LibPQConnection?, Int) {
        try Task.checkCancellation()
        if closed { throw PGError.poolClosed }
        if let connection = pick(exclusive: exclusive) { return (connection, 0) }
        openConnectionIfNeeded()
        if ready.isEmpty && connections.isEmpty, consecutiveFailures > 0, let lastConnectError {
            // The server is unreachable: fail fast rather than queue behind a backoff; a retry is
            // already scheduled.
            throw lastConnectError
        }
        guard waiters.count < configuration.maximumWaiters else {
            throw PGError(code: .tooManyWaiters, message: "\(waiters.count) callers already wait for a connection")
        }
        nextID += 1
        return (nil, nextID - 1)
    }

    private func pick(exclusive: Bool) -> LibPQConnection? {
        // A reserved connection should be idle; a query goes where the picker packs it.
        let choice = exclusive ? ConnectionPicker.leastLoaded(ready) : picker.choose(ready, now: EventLoop.monotonicNanos())
        guard let choice else { return nil }
        // Every open connection is full or stalled: open another (one at a time) while sharing these.
        if choice.saturated { openConnectionIfNeeded() }
        let connection = ready[choice.index]
        if exclusive {
            ready.remove(at: choice.index)
            publishReady()
        } else if choice.load >= configuration.maximumPipelineDepth {
            return nil
        }
        connection.addQuery()
        return connection
    }

    nonisolated func giveBack(_ connection: LibPQConnection) {
        Task { await self.returnReserved(connection) }
    }

    private func returnReserved(_ connection: LibPQConnection) {
        guard connections[connection.id] != nil else { return }
        if closed { return }
        ready.append(connection)
        publishReady()
        serveWaiters()
    }

    private func serveWaiters() {
        // Cleared before serving, so a completion from here on schedules another round. An
        // exchange, not a store: reading the flag a completion set makes that completion's
        // lower in-flight count visible to the picks below.
        _ = serveRequested.exchange(false, ordering: .acquiringAndReleasing)
        while let waiter = waiters.first, let connection = pick(exclusive: waiter.exclusive) {
            removeFirstWaiter(waiter)
            waiter.continuation.resume(returning: connection)
        }
    }

    /// Fails waiters whose deadline passed; sleeps until the next deadline while any wait.
    private func sweepTimeouts() async {
        while let first = waiters.first {
            if first.deadline > ContinuousClock.now {
                do {
                    try await Task.sleep(until: first.deadline, clock: .continuous)
                } catch {
                    break  // cancelled by close(), which fails every waiter
                }
                continue
            }
            let error = PGError(
                code: .connectionWaitTimeout,
                message: "no connection became available within \(configuration.connectionWaitTimeout)")
            let now = ContinuousClock.now
            while let waiter = waiters.first, waiter.deadline <= now {
                removeFirstWaiter(waiter)
                waiter.continuation.resume(throwing: error)
            }
        }
        timeoutSweeper = nil
    }

    private func removeFirstWaiter(_ waiter: Waiter) {
        waiters.removeFirst()
        waiterPositions[waiter.id] = nil
        waiting.subtract(1, ordering: .relaxed)
    }

    /// Fails the waiter with this ID, if it still waits (it may have been served or timed out
    /// since its task was cancelled).
    private func removeWaiter(_ id: Int, error: any Error) {
        guard let position = waiterPositions.removeValue(forKey: id), let waiter = waiters.remove(at: position) else { return }
        waiting.subtract(1, ordering: .relaxed)
        waiter.continuation.resume(throwing: error)
    }

    private func failAllWaiters(_ error: PGError) {
        let failing = waiters.removeAll()
        waiterPositions.removeAll()
        waiting.store(0, ordering: .relaxed)
        for waiter in failing { waiter.continuation.resume(throwing: error) }
    }

    // MARK: Opening and losing connections

    private func openConnectionIfNeeded() {
        guard !closed, connecting.isEmpty, connections.count < configuration.maximumConnections else { return }
        if consecutiveFailures > 0 {
            scheduleReconnect()
            return
        }
        openConnection()
    }

    private func openConnection() {
        let id = nextID
        nextID += 1
        let connection = LibPQConnection(
            id: id, loop: loop, conninfo: conninfo, redactor: redactor,
            statementMode: configuration.usesNamedStatements ? .named : .unnamed,
            connectTimeout: configuration.connectTimeout, writeCost: configuration.writeCost,
            callbacks: .init(
                ready: { [weak self] connection in
                    Task { await self?.connectionBecameReady(connection) }
                },
                closed: { [weak self] connection, error, wasConnecting in
                    Task { await self?.connectionDidClose(connection, error: error, wasConnecting: wasConnecting) }
                },
                completed: { [weak self] connection in
                    // Only hop to the pool when someone waits for room.
                    guard let self, self.waiting.load(ordering: .sequentiallyConsistent) > 0,
                        !self.serveRequested.exchange(true, ordering: .acquiringAndReleasing)
                    else { return }
                    Task { await self.serveWaiters() }
                }
            ))
        connections[id] = connection
        connecting.insert(id)
        logger.trace("opening connection", metadata: ["connection": "\(id)"])
        loop.execute { connection.connect() }
    }

    private func scheduleReconnect() {
        guard !reconnectScheduled else { return }
        reconnectScheduled = true
        let exponent = min(consecutiveFailures - 1, 20)
        let delay = min(configuration.initialReconnectDelay * (1 << exponent), configuration.maximumReconnectDelay)
        Task { [weak self] in
            try? await Task.sleep(for: delay)
            await self?.reconnectNow()
        }
    }

    private func reconnectNow() {
        reconnectScheduled = false
        guard !closed, connecting.isEmpty, connections.count < configuration.maximumConnections else { return }
        if connections.count < configuration.minimumConnections || !waiters.isEmpty || ready.isEmpty {
            openConnection()
        }
    }

    func connectionBecameReady(_ connection: LibPQConnection) {
        // A connection that failed right after connecting can be reported closed first: the two
        // callbacks reach the pool in tasks of their own, which nothing orders. Its close took it
        // out of `connecting` (and `connections`) then, and it must not join the ready ones
        // (every query picked for it would fail).
        guard connecting.remove(connection.id) != nil else { return }
        consecutiveFailures = 0
        lastConnectError = nil
        guard !closed else {
            let grace = configuration.closeGracePeriod
            loop.execute { connection.close(gracePeriod: grace) }
            return
        }
        logger.debug("connection open", metadata: ["connection": "\(connection.id)"])
        ready.append(connection)
        publishReady()
        serveWaiters()
        if connections.count < configuration.minimumConnections { openConnectionIfNeeded() }
    }

    func connectionDidClose(_ connection: LibPQConnection, error: PGError?, wasConnecting: Bool) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        ready.removeAll { $0 === connection }
        publishReady()
        // Failed while connecting, or its `ready` is still on the way (see connectionBecameReady):
        // either way it is no longer being opened.
        connecting.remove(connection.id)
        if wasConnecting {
            if let error {
                consecutiveFailures += 1
                lastConnectError = error
                logger.warning("could not connect to PostgreSQL", metadata: ["error": "\(error.message)"])
                if ready.isEmpty { failAllWaiters(error) }
            }
        } else if let error {
            logger.warning("lost a PostgreSQL connection", metadata: ["connection": "\(connection.id)", "error": "\(error.message)"])
        }
        if closed {
            if connections.isEmpty {
                let waiting = closeWaiters
                closeWaiters.removeAll()
                Task {
                    await self.stopLoop()
                    for waiter in waiting { waiter.resume() }
                }
            }
            return
        }
        if connections.count < configuration.minimumConnections || !waiters.isEmpty {
            openConnectionIfNeeded()
        }
    }


    private func stopLoop() async {
        if !loopStopped {
            loopStopped = true
            loop.shutdown()
        }
        await loop.awaitTermination()
    }
}
