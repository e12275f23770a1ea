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
        case sync  // waiting for the pipeline sync that closes this query's segment
    }

    let sql: String
    let parameters: EncodedParameters
    private var continuation: UnsafeContinuation<QueryResult, any Error>?

    var cancelRequested = false
    var submitted = false
    var phase: Phase = .query
    var sawResultInPhase = false
    var result: QueryResult?
    var error: PGError?

    init(sql: String, parameters: EncodedParameters) {
        self.sql = sql
        self.parameters = parameters
    }

    func setContinuation(_ continuation: UnsafeContinuation<QueryResult, any Error>) {
        self.continuation = continuation
    }

    /// Whether the caller is still waiting for this query.
    var isAwaited: Bool { continuation != nil }

    func succeed(_ result: QueryResult) {
        continuation?.resume(returning: result)
        continuation = nil
    }

    func fail(_ error: any Error) {
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
