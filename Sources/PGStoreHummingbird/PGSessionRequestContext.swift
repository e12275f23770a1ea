public import Hummingbird

/// A request context that carries the session of ``PGSessionMiddleware``.
///
/// ```swift
/// struct AppContext: PGSessionRequestContext {
///     var coreContext: CoreRequestContextStorage
///     let sessions = SessionHandle()
///     init(source: Source) { coreContext = .init(source: source) }
/// }
/// ```
public protocol PGSessionRequestContext: RequestContext {
    /// The session of this request.
    var sessions: SessionHandle { get }
}

/// A ready-made context with sessions, for apps that need nothing else in theirs.
public struct BasicPGSessionRequestContext: PGSessionRequestContext {
    /// Hummingbird's own per-request storage.
    public var coreContext: CoreRequestContextStorage
    /// The session of this request.
    public let sessions = SessionHandle()

    /// Creates the context for a request.
    public init(source: Source) {
        coreContext = .init(source: source)
    }
}
