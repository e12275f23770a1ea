public import ServiceLifecycle

/// Runs a store's cleanup as a swift-service-lifecycle `Service`, so it starts and stops with the
/// rest of the application inside a `ServiceGroup` (and stops on graceful shutdown).
public struct SessionCleanupService: Service {
    private let store: SessionStore
    private let interval: Duration

    /// - Parameters:
    ///   - store: the store whose expired rows are deleted.
    ///   - interval: the pause between runs. Default 5 minutes.
    public init(store: SessionStore, interval: Duration = .seconds(300)) {
        self.store = store
        self.interval = interval
    }

    /// Deletes expired rows every `interval` until graceful shutdown or cancellation.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await store.runCleanup(interval: interval)
        }
    }
}
