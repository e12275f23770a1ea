public import Hummingbird
public import PGStore
import PGClient
import Logging
import HTTPTypes

/// Loads the request's session from a `SessionStore` before the handler and writes it after.
///
/// - Before: `store.get(request, name:)`; a bad or missing cookie gives a fresh session.
/// - After: the session is saved only when it changed or its expiry must move; a fresh session no
///   one put a value in costs nothing. ``SessionHandle/regenerateID(userID:)`` and
///   ``SessionHandle/destroy()`` run instead when the handler asked for them. The `Set-Cookie`
///   field goes on the response.
/// - A handler that answers by throwing an `HTTPResponseError` (such as `HTTPError(.badRequest)`)
///   answered as much as one that returned a response: its session is written the same way, and the
///   `Set-Cookie` field goes on the error's response (a flash added before a 401 reaches the next
///   page). Any other error leaves the session as it was loaded: a request that failed half-way
///   stores nothing of what it did.
/// - Requests of one browser that run at once each keep their changes: a save merges with the
///   others' (see `SessionStore.save(_:)`).
/// - When the database cannot be reached the request fails with 503 Service Unavailable and one
///   clear log line; it works again as soon as the database is back.
/// - When the session cannot be saved for a reason of its own (its encoded data is larger than the
///   store's `maxLength`), the request fails with 500 Internal Server Error and an error-level log
///   line saying why; the stored session stays as it was.
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
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            guard let field = try await persist(context: context) else { throw error }
            throw HTTPResponseErrorWithSessionCookie(original: error, setCookie: field)
        }
        if let field = try await persist(context: context) { response.headers.append(field) }
        return response
    }

    /// Writes what the handler did to the session and returns the `Set-Cookie` field to send, if any.
    private func persist(context: Context) async throws -> HTTPField? {
        let (loaded, pending) = context.sessions.take()
        guard var session = loaded else { return nil }
        do {
            switch pending {
            case .destroy:
                return try await store.destroy(&session)
            case .regenerateID(let userID):
                return try await store.regenerateID(&session, userID: userID)
            case .save:
                return session.needsSave ? try await store.save(&session) : nil
            }
        } catch let error as SessionStoreError where error.code == .sessionNotFound {
            // Logged out elsewhere while this request ran: the session stays gone.
            context.logger.info("session was destroyed by another request; not saved")
            return nil
        } catch let error as PGError {
            throw unavailable(error, context: context)
        } catch let error as SessionStoreError {
            // A session grown past the store's maxLength, say. Hummingbird answers such an error
            // with a 500 and logs it at debug level only, so without this line every save of
            // that session would fail with nothing in the log to say why.
            context.logger.error("session not saved: \(error)")
            throw error
        }
    }

    private func unavailable(_ error: any Error, context: Context) -> HTTPError {
        context.logger.error("session store unavailable: \(String(describing: error))")
        return HTTPError(.serviceUnavailable, message: "The session store is unavailable; try again shortly.")
    }
}
