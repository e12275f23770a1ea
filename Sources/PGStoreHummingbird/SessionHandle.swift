public import PGStore
import PGClient
import Synchronization

/// The current request's session, shared between ``PGSessionMiddleware`` and the handlers.
///
/// Request contexts are values, so the middleware and the handler share this reference: the
/// middleware puts the loaded session in, the handler reads and changes it, and after the handler
/// the middleware saves it (only when it changed), renews its ID, or destroys it.
public final class SessionHandle: Sendable {
    enum Pending: Sendable { case save, regenerateID(userID: String?), destroy }

    private struct State: Sendable {
        var session: Session?
        var pending: Pending = .save
    }

    private let state = Mutex(State())

    /// An empty handle; ``PGSessionMiddleware`` fills it for each request.
    public init() {}

    /// The session of this request (`nil` outside ``PGSessionMiddleware``).
    public var session: Session? {
        get { state.withLock(announcingTo: self) { $0.session } }
        set { state.withLock(announcingTo: self) { $0.session = newValue } }
    }

    /// Changes the session in place.
    /// - Throws: ``SessionHandleError`` when no ``PGSessionMiddleware`` loaded a session.
    @discardableResult
    public func withSession<Result>(_ body: (inout Session) throws -> Result) throws -> Result {
        try state.withLock(announcingTo: self) { state in
            guard var session = state.session else { throw SessionHandleError() }
            defer { state.session = session }
            return try body(&session)
        }
    }

    /// A value of the session, or `nil`.
    public subscript(key: String) -> SessionValue? {
        get { state.withLock(announcingTo: self) { $0.session?.values[key] } }
        set { state.withLock(announcingTo: self) { $0.session?.values[key] = newValue } }
    }

    /// Login: after the handler the session gets a new ID (values kept, old row gone), so an ID
    /// planted before login is worthless (session fixation).
    ///
    /// - Parameter userID: the user who logged in; the session is bound to them, so that
    ///   `SessionStore.destroySessions(ofUser:except:)` logs them out everywhere. `nil` (the
    ///   default) keeps the binding the session had, if any.
    public func regenerateID(userID: String? = nil) {
        state.withLock(announcingTo: self) { $0.pending = .regenerateID(userID: userID) }
    }

    /// Logout: after the handler the session's row is deleted and the cookie expired.
    public func destroy() { state.withLock(announcingTo: self) { $0.pending = .destroy } }

    func take() -> (Session?, Pending) {
        state.withLock(announcingTo: self) { ($0.session, $0.pending) }
    }
}

/// Thrown when a handler uses a ``SessionHandle`` that no ``PGSessionMiddleware`` filled.
public struct SessionHandleError: Error, CustomStringConvertible {
    /// A short text for logs; it never contains secrets.
    public var description: String { "no session: add PGSessionMiddleware in front of this route" }
}
