import CLibPQ
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One libpq connection in non-blocking pipeline mode, confined to its ``EventLoop``'s thread.
///
/// Every method except the `let`s, `inFlight` and `refuse(_:)` runs on the loop thread; the
/// class is `@unchecked Sendable` only so the pool can hand it to `EventLoop.execute`. It owns its
/// `PGconn` and finishes it exactly once (`teardown()`).
///
/// Each query goes out as its own pipeline segment (Parse when new, Bind/Execute, Sync), so a
/// failing statement aborts only its own segment: the other callers in the pipeline are
/// unaffected. Read-only queries sent in one loop tick share a segment instead: one Sync, so one
/// implicit transaction and one flush on the server for all of them, which is most of what a
/// primary-key SELECT costs it. Should one of them fail, the server skips the rest of their
/// segment; those are sent again, each in a segment of its own, so no caller ever sees another
/// caller's error. Writes marked for group commit sent in one tick likewise share a segment of
/// their own (never with reads, which could otherwise see a write that then fails to commit):
/// one transaction and one commit for all. Should any of them fail, or their commit, they are
/// all rolled back together, and each is sent again in a segment of its own, so that each
/// caller gets its own statement's outcome. A write's caller resumes only once its segment's
/// Sync is answered: the implicit transaction commits there, after the statement's own result,
/// and can still fail.
final class LibPQConnection: EventLoopHandler, @unchecked Sendable {
    enum State { case initial, connecting, ready, draining, closed }

    /// How statements are sent: named prepared statements cached per connection (fast), or unnamed
    /// ones parsed each time (works behind PgBouncer in transaction mode).
    enum StatementMode: Sendable { case named, unnamed }

    struct Callbacks: Sendable {
        var ready: @Sendable (LibPQConnection) -> Void
        var closed: @Sendable (LibPQConnection, _ error: PGError?, _ wasConnecting: Bool) -> Void
        var completed: @Sendable (LibPQConnection) -> Void
    }

    private struct StatementKey: Hashable {
        let sql: String
        let types: ParameterTypes
    }

    let id: Int
    let loop: EventLoop
    /// Queries handed to this connection and not yet answered, a write counting as the pool's
    /// `writeCost` once submitted. Written by the pool (lease) and the loop (submission,
    /// completion); read by the pool to spread load.
    let inFlight = Atomic<Int>(0)
    /// What a statement that is not read-only adds to `inFlight` beyond 1 (see
    /// ``ConnectionPool/Configuration/writeCost``).
    private let extraWriteCost: Int
    /// When this connection last answered a query, or went from idle to busy (the pool's picker
    /// uses it to tell a stalled pipeline from a busy one).
    let lastProgress = Atomic<UInt64>(0)
    /// Queries sent again after another statement of their shared segment failed (for tests).
    let resentCount = Atomic<Int>(0)

    private let conninfo: String
    private let redactor: SecretRedactor
    private let statementMode: StatementMode
    private let defaultConnectTimeout: Duration
    private let callbacks: Callbacks

    private var state: State = .initial
    private var pg: OpaquePointer?
    private var fd: Int32 = -1
    private var token: UInt64 = 0
    private var wantWrite = false
    private var flushScheduled = false
    private var isTCP = false
    private var corked = false
    private var syncedThisTick = false
    private var timer: UInt64?
    /// What the server will answer, in pipeline order: each query's results, and each Sync.
    private enum Expected {
        case query(PendingQuery)
        case sync
    }

    private var sent = FIFO<Expected>()
    /// Writes whose statement has completed, waiting for their segment's Sync: the implicit
    /// transaction commits only there, and the commit can still fail (a deferred constraint, a
    /// serialization failure). One write, or the writes of one group-commit segment.
    private var awaitingCommit: [PendingQuery] = []
    /// Queries sent since the last Sync into a segment that others may still join.
    private var openSegmentCount = 0
    /// What the open segment holds: read-only queries, or writes marked for group commit.
    private var openSegmentHoldsWrites = false
    /// The most queries in one segment: bounds the work repeated when one fails.
    private static let maximumSegmentCount = 64
    /// Group-commit writes submitted during this tick, sent at its end in the order of their
    /// keys (see ``sendHeldWrites()``).
    private var heldWrites: [(key: String, query: PendingQuery)] = []
    /// The statements prepared on this connection, by number (the server knows them as
    /// `pgs<number>`, see ``withStatementName(_:_:)``).
    private var statementNumbers: [StatementKey: Int] = [:]
    /// The statement of the last query sent, checked before `statementNumbers`: a store sends the
    /// same few statements over and over, and comparing a string with itself (same storage) costs
    /// nothing, where the dictionary hashes all of the SQL text for every query. Kept as plain
    /// fields compared in place: a key or tuple built for the comparison cost retains and
    /// releases of the SQL, the types and the name on every query.
    private var lastSQL = ""
    private var lastTypes: ParameterTypes?
    private var lastNumber: Int?
    /// Numbers statement names. Never reused: a name freed by a failed Parse could still be taken
    /// on the server by a later Parse already sent, so a count of the names in use is not enough.
    private var nextStatementNumber = 0

    init(
        id: Int, loop: EventLoop, conninfo: String, redactor: SecretRedactor, statementMode: StatementMode,
        connectTimeout: Duration, writeCost: Int, callbacks: Callbacks
    ) {
        self.id = id
        self.extraWriteCost = max(1, writeCost) - 1
        self.loop = loop
        self.conninfo = conninfo
        self.redactor = redactor
        self.statementMode = statementMode
        self.defaultConnectTimeout = connectTimeout
        self.callbacks = callbacks
    }

    // MARK: Connecting

    /// Starts a non-blocking connection attempt (`PQconnectStartParams` + `PQconnectPoll`).
    func connect() {
        guard state == .initial else { return }
        state = .connecting
        // The whole URL or conninfo string goes in as `dbname` with expand_dbname, so every libpq
        // form works (URLs, key=value, multi-host, sslmode, unix sockets). Later keywords override.
        let keywords = ["dbname", "client_encoding", "fallback_application_name"]
        let values = [conninfo, "UTF8", "swift-pgstore"]
        pg = withCStringArray(keywords) { k in
            withCStringArray(values) { v in PQconnectStartParams(k, v, 1) }
        }
        guard let pg else {
            failConnection(PGError(code: .connectionFailed, message: "libpq could not allocate a connection"))
            return
        }
        if PQstatus(pg) == CONNECTION_BAD {
            failConnection(connectionError("could not start connecting"))
            return
        }
        PQsetNoticeProcessor(pg, { _, _ in }, nil)  // notices are not errors; keep stderr clean
        // libpq leaves connect_timeout to applications that poll; honour it, or our default.
        let timeout = connectTimeoutFromConninfo(pg) ?? defaultConnectTimeout
        timer = loop.scheduleTimer(after: timeout) { [self] in
            timer = nil
            if state == .connecting {
                failConnection(PGError(code: .connectionFailed, message: "timed out connecting after \(timeout)"))
            }
        }
        // "After PQconnectStart succeeds, behave as if PQconnectPoll last returned WRITING."
        watchSocket(read: false, write: true)
    }

    private func connectTimeoutFromConninfo(_ pg: OpaquePointer) -> Duration? {
        guard let options = PQconninfo(pg) else { return nil }
        defer { PQconninfoFree(options) }
        var index = 0
        while let keyword = options[index].keyword {
            if String(cString: keyword) == "connect_timeout", let value = options[index].val,
                let seconds = Int(String(cString: value)), seconds > 0
            {
                return .seconds(max(seconds, 2))  // libpq also treats 1 as 2
            }
            index += 1
        }
        return nil
    }

    private func pollConnect() {
        guard let pg else { return }
        switch PQconnectPoll(pg) {
        case PGRES_POLLING_READING:
            watchSocket(read: true, write: false)
        case PGRES_POLLING_WRITING:
            watchSocket(read: false, write: true)
        case PGRES_POLLING_OK:
            becomeReady(pg)
        default:  // PGRES_POLLING_FAILED
            failConnection(connectionError("could not connect"))
        }
    }

    private func becomeReady(_ pg: OpaquePointer) {
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        guard PQsetnonblocking(pg, 1) == 0, PQenterPipelineMode(pg) == 1 else {
            failConnection(connectionError("could not enter pipeline mode"))
            return
        }
        state = .ready
        watchSocket(read: true, write: false)
        isTCP = Self.isTCPSocket(fd)
        callbacks.ready(self)
    }

    /// (Re)registers the socket: libpq may switch sockets while it tries several hosts.
    private func watchSocket(read: Bool, write: Bool) {
        guard let pg else { return }
        let current = PQsocket(pg)
        wantWrite = write
        if current != fd {
            if token != 0 { loop.unregister(token: token, fd: fd) }
            fd = current
            token = current >= 0 ? loop.register(fd: current, handler: self, read: read, write: write) : 0
        } else if token != 0 {
            loop.modify(token: token, fd: fd, read: read, write: write)
        }
    }

    // MARK: Queries

    /// Sends `query`: in its own pipeline segment; when read-only, in the segment shared by this
    /// tick's read-only queries; a group-commit write at the end of the tick, with the tick's
    /// others (``sendHeldWrites()``). Its result arrives through `handleEvent`.
    func submit(_ query: PendingQuery) {
        query.submitted = true
        // A write weighs more in the pool's packing from now until it finishes (the lease
        // counted it as 1, before the pool knew what it was; read-only queries stay at 1).
        if !query.readOnly && query.extraCost == 0 && extraWriteCost > 0 {
            query.extraCost = extraWriteCost
            inFlight.add(extraWriteCost, ordering: .relaxed)
        }
        if query.cancelRequested {
            finished(query, failing: CancellationError())
            return
        }
        guard state == .ready, pg != nil else {
            failUnsentOnClosedConnection(query)
            return
        }
        // One flush (and uncork) per connection per tick, whatever this tick sends.
        if !flushScheduled {
            flushScheduled = true
            loop.flushAtEndOfTick(self)
        }
        let statementNumber = preparedNumber(of: query)
        let canShare = !query.resent && needsNoParse(statementNumber)
        if !query.readOnly, let key = query.groupCommitKey, canShare {
            heldWrites.append((key, query))
            return
        }
        transmit(query, statementNumber: statementNumber, shares: query.readOnly && canShare)
    }

    /// Sends this tick's group-commit writes, in one segment (or more, of at most
    /// ``maximumSegmentCount``), sorted by their keys. A group's rows stay locked until its
    /// commit; groups that lock rows in one order (the keys') wait for each other where groups
    /// sent in arrival order could each hold a row the other wants, a deadlock that PostgreSQL
    /// breaks only after `deadlock_timeout` (one second by default). Seen at 512 tasks saving
    /// 2,000 sessions: 7 deadlocks in 10 seconds and a p99 of 1,040 ms.
    private func sendHeldWrites() {
        guard !heldWrites.isEmpty else { return }
        var writes: [(key: String, query: PendingQuery)] = []
        swap(&writes, &heldWrites)
        // The standard library's order: for ASCII keys (as session IDs are) their bytes' order.
        writes.sort { $0.key < $1.key }
        for (_, query) in writes {
            if !query.isAwaited {
                // Cancelled while held: never sent, so it finishes here.
                finished(query, failing: CancellationError())
            } else if state != .ready || pg == nil {
                failUnsentOnClosedConnection(query)
            } else {
                // Looked up again, not kept from submit: a Parse that failed during this tick
                // forgot its statement, and a write naming it would fail its whole group.
                let statementNumber = preparedNumber(of: query)
                transmit(query, statementNumber: statementNumber, shares: needsNoParse(statementNumber))
            }
        }
    }

    /// Sends `query` into the open segment when it `shares` one with the queries there (reads
    /// with reads, group-commit writes with group-commit writes), else into a segment of its own.
    private func transmit(_ query: PendingQuery, statementNumber: Int?, shares: Bool) {
        guard let pg else {
            failUnsent(query, code: .connectionFailed)
            return
        }
        let holdsWrites = !query.readOnly
        if openSegmentCount > 0 && (!shares || holdsWrites != openSegmentHoldsWrites) && !closeSegment() {
            // The open segment's Sync could not go out: the connection failed and answered
            // everything it had sent, but not this query, which is not in `sent` yet. Without
            // this its caller would wait forever (seen: a pool test hung about one run in twelve
            // after pg_terminate_backend).
            failUnsent(query, code: .connectionFailed)
            return
        }
        let sentOK = query.parameters.withLibPQArrays { values, lengths, formats, types -> Bool in
            let count = Int32(query.parameters.count)
            switch statementMode {
            case .unnamed:
                query.phase = .query
                return PQsendQueryParams(pg, query.sql, count, types, values, lengths, formats, 1) == 1
            case .named:
                if let statementNumber {
                    query.phase = .query
                    return Self.withStatementName(statementNumber) {
                        PQsendQueryPrepared(pg, $0, count, values, lengths, formats, 1) == 1
                    }
                }
                let number = nextStatementNumber
                nextStatementNumber += 1
                return Self.withStatementName(number) { name in
                    guard PQsendPrepare(pg, name, query.sql, count, types) == 1 else { return false }
                    statementNumbers[StatementKey(sql: query.sql, types: query.parameters.types)] = number
                    (lastSQL, lastTypes, lastNumber) = (query.sql, query.parameters.types, number)
                    query.phase = .prepare
                    return PQsendQueryPrepared(pg, name, count, values, lengths, formats, 1) == 1
                }
            }
        }
        sent.append(.query(query))
        guard sentOK else {
            // libpq refuses to queue only when the connection itself is broken.
            failConnection(connectionError("could not send the query"))
            return
        }
        if shares {
            openSegmentHoldsWrites = holdsWrites
            openSegmentCount += 1
            if openSegmentCount >= Self.maximumSegmentCount { _ = closeSegment() }
        } else {
            _ = closeSegment()
        }
    }

    /// ``failUnsent(_:code:)`` for a connection that is no longer ready: closed when it is
    /// draining (the pool closes it), failed otherwise.
    private func failUnsentOnClosedConnection(_ query: PendingQuery) {
        failUnsent(query, code: state == .draining ? .connectionClosed : .connectionFailed)
    }

    /// Fails a query that never reached the server, so the pool may send it on another connection.
    private func failUnsent(_ query: PendingQuery, code: PGError.Code) {
        var error = PGError(code: code, message: "the connection is no longer open")
        error.wasNotSent = true
        finished(query, failing: error)
    }

    /// Ends the current pipeline segment with a Sync. Returns false when the connection failed.
    private func closeSegment() -> Bool {
        openSegmentCount = 0
        // libpq 15's PQpipelineSync always flushes, so every segment would be its own send() and,
        // over TCP, its own segment and server wake-up. From the second Sync of a loop tick on,
        // the socket is corked until flushAtEndOfTick(), which merges the rest of the tick's
        // sends into one. A tick of read-only queries has one Sync and needs no cork (two
        // setsockopt calls saved per tick). PQsendPipelineSync (libpq 17) would make this unneeded.
        if syncedThisTick && isTCP && !corked {
            corked = Self.setCork(fd, true)
        }
        syncedThisTick = true
        guard let pg, PQpipelineSync(pg) == 1 else {
            failConnection(connectionError("could not send the query"))
            return false
        }
        sent.append(.sync)
        return true
    }

    /// The caller's task was cancelled. Its query, if already sent, stays in the pipeline (the
    /// protocol must see its result) but the caller is released now.
    func cancel(_ query: PendingQuery) {
        if !query.submitted {
            query.cancelRequested = true
        } else {
            query.fail(CancellationError())
        }
    }

    func flushAtEndOfTick() {
        flushScheduled = false
        sendHeldWrites()
        if openSegmentCount > 0 && (state == .ready || state == .draining) && !closeSegment() { return }
        syncedThisTick = false
        flush()
        if corked {
            corked = false
            _ = Self.setCork(fd, false)  // pushes out everything sent during this tick
        }
    }

    private func flush() {
        guard let pg, state == .ready || state == .draining else { return }
        switch PQflush(pg) {
        case 0:
            if wantWrite { watchSocket(read: true, write: false) }
        case 1:
            if !wantWrite { watchSocket(read: true, write: true) }
        default:
            failConnection(connectionError("could not send to the server"))
        }
    }

    func handleEvent(readable: Bool, writable: Bool, hangup: Bool) {
        switch state {
        case .connecting:
            pollConnect()
        case .ready, .draining:
            if readable || hangup { readResults() }
            if (writable || readable) && wantWrite { flush() }
        case .initial, .closed:
            break
        }
    }

    private func readResults() {
        guard let pg else { return }
        if PQconsumeInput(pg) == 0 {
            failConnection(connectionError("lost the connection"))
            return
        }
        var strayNulls = 0
        while state != .closed, PQisBusy(pg) == 0 {
            let next = PQgetResult(pg)
            guard let head = sent.first else {
                guard let next else { break }
                PQclear(next)  // nothing is waiting for it (cannot happen in step with the server)
                continue
            }
            if next != nil { strayNulls = 0 }
            switch (head, next) {
            case (.sync, let result?):
                if PQresultStatus(result) == PGRES_PIPELINE_SYNC {
                    PQclear(result)  // the segment is over, its transaction committed or rolled back
                    sent.removeFirst()
                    completeAwaitingCommit()
                } else {
                    // Not yet the Sync: an error the server raised as it committed the segment's
                    // transaction. The Sync's own result follows it.
                    commitFailed(result)
                }
            case (.query(let query), let result?):
                handle(result, for: query)
            case (.query(let query), nil) where query.sawResultInPhase:
                // A NULL ends the results of one command, but only once that command sent one.
                query.sawResultInPhase = false
                if query.phase == .prepare {
                    query.phase = .query
                } else {
                    sent.removeFirst()
                    // A read's rows are what it read whatever becomes of its segment; a write is
                    // done only once its transaction has committed, at the Sync.
                    if query.readOnly { finish(query) } else { awaitingCommit.append(query) }
                }
            case (_, nil):
                strayNulls += 1
            }
            if strayNulls > 1 { break }
        }
        if state != .closed && PQstatus(pg) == CONNECTION_BAD {
            failConnection(connectionError("the server closed the connection"))
            return
        }
        if state == .draining && sent.isEmpty { closeNow(error: nil) }
    }

    /// The Sync of the writes' segment is in: each completes with what its statement got, or with
    /// the error its commit met. Writes that shared a segment that failed in any way were all
    /// rolled back; each goes out again on its own (once), so each caller gets its own outcome.
    private func completeAwaitingCommit() {
        guard !awaitingCommit.isEmpty else { return }
        let rerun = awaitingCommit.count > 1 && awaitingCommit.contains { $0.error != nil }
        // Taken out first: a resend can fail the connection, which fails what is still awaiting.
        var queries: [PendingQuery] = []
        swap(&queries, &awaitingCommit)
        for query in queries {
            if rerun && query.isAwaited && !query.resent {
                resend(query)
            } else {
                finished(query)
            }
        }
        queries.removeAll(keepingCapacity: true)
        if awaitingCommit.isEmpty { swap(&queries, &awaitingCommit) }  // keeps the storage
    }

    /// The segment's transaction failed as it committed: its writes get the error unless their
    /// statement already failed (writes that shared the segment are then sent again, see
    /// ``completeAwaitingCommit()``); a read-only segment's reads, already answered, keep their
    /// rows: they read them.
    private func commitFailed(_ result: OpaquePointer) {
        let status = PQresultStatus(result)
        let error = status == PGRES_PIPELINE_ABORTED ? nil : queryError(result)
        PQclear(result)
        guard let error else { return }
        for query in awaitingCommit where query.error == nil {
            query.error = error
            query.result = nil
        }
    }

    /// A query's last result is in: it completes, or, skipped only because another statement of
    /// its shared segment failed, goes out again in a segment of its own.
    private func finish(_ query: PendingQuery) {
        if query.shouldResend {
            resend(query)
        } else {
            finished(query)
        }
    }

    /// Sends `query` again, in a segment of its own.
    private func resend(_ query: PendingQuery) {
        resentCount.add(1, ordering: .relaxed)
        query.prepareToResend()
        submit(query)
    }

    private func handle(_ result: OpaquePointer, for head: PendingQuery) {
        let status = PQresultStatus(result)
        head.sawResultInPhase = true
        switch status {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            // Copied and cleared here, on the thread that allocated it (see QueryResult).
            if head.phase == .query && head.error == nil { head.result = QueryResult(copying: result) }
            PQclear(result)
        case PGRES_PIPELINE_ABORTED:
            PQclear(result)
            head.aborted = true
            if head.phase == .prepare { forgetStatement(sql: head.sql, types: head.parameters.types) }
            if head.error == nil {
                head.error = PGError(code: .queryFailed, message: "the statement was skipped after an earlier error")
            }
        default:  // PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE, COPY states
            let error = queryError(result)
            PQclear(result)
            if head.phase == .prepare { forgetStatement(sql: head.sql, types: head.parameters.types) }
            if head.error == nil { head.error = error }
        }
    }

    private func forgetStatement(sql: String, types: ParameterTypes) {
        statementNumbers[StatementKey(sql: sql, types: types)] = nil
        if lastNumber != nil && sql == lastSQL && types == lastTypes { lastNumber = nil }
    }

    /// The number of the statement `query` names when statements are named and it is prepared
    /// on this connection; `nil` otherwise.
    private func preparedNumber(of query: PendingQuery) -> Int? {
        statementMode == .named ? preparedNumber(sql: query.sql, types: query.parameters.types) : nil
    }

    /// Whether a query with this prepared statement number (``preparedNumber(of:)``) goes out
    /// without a Parse, as a query in a shared segment must: a Parse skipped there (because
    /// another statement failed) would leave later queries naming a statement the server never
    /// created.
    private func needsNoParse(_ statementNumber: Int?) -> Bool {
        statementMode == .unnamed || statementNumber != nil
    }

    /// The number this connection prepared the statement under, if any.
    private func preparedNumber(sql: String, types: ParameterTypes) -> Int? {
        if let lastNumber, sql == lastSQL, types == lastTypes { return lastNumber }
        guard let number = statementNumbers[StatementKey(sql: sql, types: types)] else { return nil }
        (lastSQL, lastTypes, lastNumber) = (sql, types, number)
        return number
    }

    /// Calls `body` with the NUL-terminated name of statement `number`, `pgs<number>`, written
    /// on the stack (a Swift string or array per name cost an allocation or a retain per query).
    private static func withStatementName<Result>(_ number: Int, _ body: (UnsafePointer<CChar>) -> Result) -> Result {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 24) { buffer in
            // A buffer of 24 always has an address; the string form is the same name, slower.
            guard let start = buffer.baseAddress else { return "pgs\(number)".withCString(body) }
            // "pgs", at most 19 decimal digits of a non-negative Int, NUL.
            var digits = max(0, number)
            var end = 3
            repeat {
                end += 1
                digits /= 10
            } while digits > 0
            buffer[0] = CChar(UInt8(ascii: "p"))
            buffer[1] = CChar(UInt8(ascii: "g"))
            buffer[2] = CChar(UInt8(ascii: "s"))
            buffer[end] = 0
            digits = max(0, number)
            var index = end
            repeat {
                index -= 1
                buffer[index] = CChar(UInt8(ascii: "0") + UInt8(digits % 10))
                digits /= 10
            } while digits > 0
            return body(UnsafePointer(start))
        }
    }

    /// Counts one more query in flight (called by whoever hands the query to this connection).
    func addQuery() {
        if inFlight.add(1, ordering: .relaxed).oldValue == 0 {
            lastProgress.store(EventLoop.monotonicNanos(), ordering: .relaxed)
        }
    }

    /// Fails a query that reached the loop after its thread stopped (its caller picked this
    /// connection just before the pool closed). Any thread. It stops counting against the
    /// connection as an answered one does: a reservation of this connection waits for the count
    /// to fall to zero, and would otherwise wait for ever.
    func refuse(_ query: PendingQuery) {
        inFlight.subtract(1, ordering: .sequentiallyConsistent)  // what the caller's lease added
        query.fail(PGError.poolClosed)
    }

    /// A query leaves the pipeline: it stops counting against the connection, its caller
    /// resumes (with `error`, or with what the server sent), and the pool hears of the room. The
    /// count drops first: a caller whose query is answered must never find it still counted
    /// (its next query could be refused room it has, and a test waiting for a count would read a
    /// stale one and go on too early).
    private func finished(_ query: PendingQuery, failing error: (any Error)? = nil) {
        lastProgress.store(EventLoop.monotonicNanos(), ordering: .relaxed)
        // Sequentially consistent, like the pool's count of waiters: a completion and a caller
        // starting to wait each see the other (see ConnectionPool.lease).
        inFlight.subtract(1 + query.extraCost, ordering: .sequentiallyConsistent)
        if let error { query.fail(error) } else { query.complete() }
        callbacks.completed(self)
    }

    private static func isTCPSocket(_ fd: Int32) -> Bool {
        guard fd >= 0 else { return false }
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        return ok && (Int32(address.ss_family) == AF_INET || Int32(address.ss_family) == AF_INET6)
    }

    private static func setCork(_ fd: Int32, _ on: Bool) -> Bool {
        var value: Int32 = on ? 1 : 0
        return setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    // MARK: Closing

    /// Closes gracefully: queries already in the pipeline get their results, up to `gracePeriod`;
    /// what is left then fails with ``PGError/Code/connectionClosed``.
    func close(gracePeriod: Duration) {
        switch state {
        case .initial:
            state = .closed
            callbacks.closed(self, nil, false)
        case .connecting:
            closeNow(error: nil)
        case .ready:
            state = .draining
            if sent.isEmpty {
                closeNow(error: nil)
            } else {
                timer = loop.scheduleTimer(after: gracePeriod) { [self] in
                    timer = nil
                    if state == .draining { closeNow(error: nil) }
                }
            }
        case .draining, .closed:
            break
        }
    }

    private func closeNow(error: PGError?) {
        let wasConnecting = state == .connecting
        failAll(error ?? PGError(code: .connectionClosed, message: "the connection was closed"))
        teardown()
        callbacks.closed(self, error, wasConnecting)
    }

    private func failConnection(_ error: PGError) {
        guard state != .closed else { return }
        let wasConnecting = state == .connecting || state == .initial
        failAll(error)
        teardown()
        callbacks.closed(self, error, wasConnecting)
    }

    private func failAll(_ error: PGError) {
        openSegmentCount = 0
        // Never sent: the pool may send them on another connection.
        var held: [(key: String, query: PendingQuery)] = []
        swap(&held, &heldWrites)
        for (_, query) in held { failUnsent(query, code: error.code == .connectionClosed ? .connectionClosed : .connectionFailed) }
        // Their commit was not confirmed: it may or may not have happened.
        var queries: [PendingQuery] = []
        swap(&queries, &awaitingCommit)
        for query in queries { finished(query, failing: error) }
        while let expected = sent.removeFirst() {
            guard case .query(let query) = expected else { continue }
            finished(query, failing: error)
        }
    }

    /// Frees the PGconn: the one place `PQfinish` is called.
    private func teardown() {
        state = .closed
        if let timer { loop.cancelTimer(timer) }
        timer = nil
        if token != 0 { loop.unregister(token: token, fd: fd) }
        token = 0
        fd = -1
        corked = false
        if let pg { PQfinish(pg) }
        pg = nil
    }

    // MARK: Errors

    private func connectionError(_ context: String) -> PGError {
        var message = context
        if let pg, let text = PQerrorMessage(pg) {
            let detail = String(cString: text).trimmingTrailingWhitespace()
            if !detail.isEmpty { message += ": " + detail }
        }
        return PGError(code: .connectionFailed, message: redactor.redact(message))
    }

    private func queryError(_ result: OpaquePointer) -> PGError {
        func field(_ code: UInt8) -> String? {
            guard let value = PQresultErrorField(result, Int32(code)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field(UInt8(ascii: "C")).map(SQLState.init)
        let message = field(UInt8(ascii: "M")) ?? String(cString: PQresultErrorMessage(result)).trimmingTrailingWhitespace()
        let code: PGError.Code = sqlState.map { $0.code.hasPrefix("08") || $0 == .adminShutdown } == true
            ? .connectionFailed : .queryFailed
        return PGError(
            code: code, message: message, sqlState: sqlState,
            detail: field(UInt8(ascii: "D")), hint: field(UInt8(ascii: "H")))
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var view = Substring(self)
        while let last = view.last, last.isWhitespace { view.removeLast() }
        return String(view)
    }
}

/// Calls `body` with a NULL-terminated array of C strings, valid for the call.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let copies: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
}

extension LibPQConnection: PipelineLoad {
    var queriesInFlight: Int { inFlight.load(ordering: .sequentiallyConsistent) }
    var lastProgressNanos: UInt64 { lastProgress.load(ordering: .relaxed) }
}
