public import Hummingbird
public import PGStore
import PGClient
import Logging
import HTTPTypes

/// Loads the request's session from a ``SessionStore`` before the handler and writes it after.
///
/// - Before: `store.get(request, name:)`; a bad or missing cookie gives a fresh session.
/// - After: the session is saved only when it changed or its expiry must move; a fresh session no
///   one put a value in costs nothing. ``SessionHandle/regenerateID()`` and
///   ``SessionHandle/destroy()`` run instead when the handler asked for them. The `Set-Cookie`
///   field goes on the response.
/// - When the database cannot be reached the request fails with 503 Service Unavailable and one
///   clear log line; it works again as soon as the database is back.
public struct PGSessionMiddleware<Context: PGSessionRequestContext>: RouterMiddleware {
    let store: SessionStore
    let cookieName: String

    /// - Parameters:
    ///   - store: the session store.
    ///   - cookieName: the session cookie's name. Default `sid`.
    public init(store: SessionStore, cookieName: String = "sid") {
        self.store = store
        self.cookieName = cookieName
    }

    /// Loads the session, runs the rest of the chain, then saves the session.
    public func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            context.sessions.session = try await store.get(request.head, name: cookieName)
        } catch {
            throw unavailable(error, context: context)
        }
        var response = try await next(request, context)
        let (loaded, pending) = context.sessions.take()
        guard var session = loaded else { return response }
        do {
            let field: HTTPField?
            switch pending {
            case .destroy:
                field = try await store.destroy(&session)
            case .regenerateID:
                field = try await store.regenerateID(&session)
            case .save:
                field = session.needsSave ? try await store.save(&session) : nil
            }
            if let field { response.headers.append(field) }
        } catch let error as SessionStoreError where error.code == .sessionNotFound {
            // Logged out elsewhere while this request ran: the session stays gone.
            context.logger.info("session was destroyed by another request; not saved")
        } catch let error as PGError {
            throw unavailable(error, context: context)
        }
        return response
    }

    private func unavailable(_ error: any Error, context: Context) -> HTTPError {
        context.logger.error("session store unavailable: \(String(describing: error))")
        return HTTPError(.serviceUnavailable, message: "The session store is unavailable; try again shortly.")
    }
}
