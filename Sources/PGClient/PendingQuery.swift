/// One query on its way through a connection's pipeline.
///
/// Created on the caller's task; from the moment it is handed to the event loop, every field is
/// read and written on the loop thread only. Its continuation is resumed exactly once: with the
/// result, with the error, or early with `CancellationError` when the caller's task is cancelled
/// (the query then stays in the pipeline and its result is dropped when it arrives, so the
/// protocol never gets out of step).
final class PendingQuery: @unchecked Sendable {
    enum Phase {
        case prepare  // waiting for the result of the statement's Parse
        case query  // waiting for the statement's result
    }

    let sql: String
    let parameters: EncodedParameters
    /// A read-only statement, which may share its pipeline segment (one implicit transaction, one
    /// Sync) with other read-only statements.
    let readOnly: Bool
    /// For a write that may share its segment (and so its transaction and commit) with other
    /// such writes: what it locks, which orders the writes of a shared segment (see
    /// `ConnectionPool.query(_:_:readOnly:groupCommitKey:)`). `nil` for a write on its own;
    /// ignored for a read-only statement.
    let groupCommitKey: String?
    /// Skipped by the server because another statement of its segment failed; a read-only query
    /// is then sent again, on its own (a write of a shared segment is, whatever happened to it).
    var aborted = false
    var resent = false
    private var continuation: UnsafeContinuation<QueryResult, any Error>?

    var cancelRequested = false
    var submitted = false
    /// What this query counts in its connection's `inFlight` beyond 1: set when it is submitted
    /// (a write's extra cost, see ``ConnectionPool/Configuration/writeCost``), taken off again
    /// when it finishes.
    var extraCost = 0
    var phase: Phase = .query
    var sawResultInPhase = false
    var result: QueryResult?
    var error: PGError?

    init(sql: String, parameters: EncodedParameters, readOnly: Bool, groupCommitKey: String? = nil) {
        self.sql = sql
        self.parameters = parameters
        self.readOnly = readOnly
        self.groupCommitKey = groupCommitKey
    }

    /// Whether it should be sent again rather than completed: read-only, skipped only because
    /// of another statement's failure, not sent again yet, and still awaited.
    var shouldResend: Bool { readOnly && aborted && !resent && isAwaited }

    /// Back to the state of a query not yet sent, for sending it again.
    func prepareToResend() {
        resent = true
        aborted = false
        error = nil
        result = nil
        sawResultInPhase = false
        phase = .query
    }

    func setContinuation(_ continuation: UnsafeContinuation<QueryResult, any Error>) {
        self.continuation = continuation
    }

    /// Whether the caller is still waiting for this query.
    var isAwaited: Bool { continuation != nil }

    func succeed(_ result: QueryResult) {
        ThreadSanitizer.release(self)  // the caller acquires it once resumed (ConnectionPool.run)
        continuation?.resume(returning: result)
        continuation = nil
    }

    func fail(_ error: any Error) {
        ThreadSanitizer.release(self)
        continuation?.resume(throwing: error)
        continuation = nil
    }

    /// Resumes the caller with what the server sent for this query's segment.
    func complete() {
        if let error {
            fail(error)
        } else if let result {
            succeed(result)
        } else {
            fail(PGError(code: .queryFailed, message: "the server sent no result for the statement"))
        }
        result = nil
    }
}
