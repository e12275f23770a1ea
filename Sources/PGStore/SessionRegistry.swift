public import HTTPTypes
import Synchronization
import PGClient

/// The sessions of one request, each loaded at most once: the counterpart of gorilla/sessions'
/// per-request registry, for frameworks without a session middleware.
///
/// Without it, two `get`s of a request that carries no cookie would hand out two different fresh
/// IDs. Make one registry per request, read sessions through it, put changed copies back with
/// ``update(_:)``, and add the fields from ``save()`` to the response.
///
/// ```swift
/// let sessions = SessionRegistry(store: store, request: request)
/// var cart = try await sessions.get("cart")
/// cart.values["items"] = [1, 2]
/// sessions.update(cart)
/// response.headerFields.append(contentsOf: try await sessions.save())
/// ```
public final class SessionRegistry: Sendable {
    private let store: SessionStore
    private let request: HTTPRequest
    private let sessions = Mutex<[String: Session]>([:])

    /// A registry for one request.
    /// - Parameters:
    ///   - store: the store sessions come from.
    ///   - request: the request whose cookies are read.
    public init(store: SessionStore, request: HTTPRequest) {
        self.store = store
        self.request = request
    }

    /// The session named `name`: loaded on the first call, the same (cached) value afterwards.
    /// - Throws: `PGError` when the database fails.
    public func get(_ name: String) async throws -> Session {
        if let cached = cached(name) { return cached }
        return remember(try await store.get(request, name: name))
    }

    // The cache steps are out of line so that their temporaries (several copies of a Session)
    // stay out of get's async frame, which a request keeps while it waits for the database.
    @inline(never)
    private func cached(_ name: String) -> Session? {
        sessions.withLock(announcingTo: self) { $0[name] }
    }

    /// Two concurrent first calls: the first to finish wins, so both see one session.
    @inline(never)
    private func remember(_ loaded: Session) -> Session {
        sessions.withLock(announcingTo: self) { cache in
            if let cached = cache[loaded.name] { return cached }
            cache[loaded.name] = loaded
            return loaded
        }
    }

    /// Puts a changed copy back, so later ``get(_:)`` calls and ``save()`` see it.
    public func update(_ session: Session) {
        sessions.withLock(announcingTo: self) { $0[session.name] = session }
    }

    /// Saves every session that needs it (see ``Session/needsSave``).
    /// - Returns: the `Set-Cookie` fields to add to the response.
    /// - Throws: what ``SessionStore/save(_:)`` throws; sessions saved before the failure stay saved.
    public func save() async throws -> [HTTPField] {
        let pending = sessions.withLock(announcingTo: self) { cache in cache.values.filter(\.needsSave) }
        var fields: [HTTPField] = []
        for var session in pending.sorted(by: { $0.name < $1.name }) {
            fields.append(try await store.save(&session))
            update(session)
        }
        return fields
    }
}
