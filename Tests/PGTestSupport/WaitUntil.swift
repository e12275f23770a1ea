public import Testing

/// Polls `condition` until it holds, failing the test after `timeout`.
///
/// Tests wait for a known state this way rather than sleeping a fixed time: a fixed sleep is
/// either too short on a loaded CI machine (a flaky test) or needlessly long everywhere else.
public func waitUntil(
    timeout: Duration = .seconds(10),
    _ what: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record(what ?? "condition not reached within \(timeout)", sourceLocation: sourceLocation)
            throw WaitTimedOut()
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Thrown by ``waitUntil(timeout:_:sourceLocation:_:)`` when its condition never held.
public struct WaitTimedOut: Error {}
