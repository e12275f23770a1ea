import Foundation
import Hummingbird
import Logging
import PGClient
import PGStore
import PGStoreHummingbird

/// The example app: a login form, logout (here, or on every device), a per-session visit counter
/// and a flash message.
enum DemoApp {
    typealias Context = BasicPGSessionRequestContext

    static func router(store: SessionStore) -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: PGSessionMiddleware(store: store, cookieName: "sid"))

        router.get("/") { _, context -> Response in
            let (visits, user, flashes) = try context.sessions.withSession { session in
                let visits = (session.values["visits"]?.intValue ?? 0) + 1
                session.values["visits"] = .int(visits)
                return (visits, session.values["user"]?.stringValue, session.flashes())
            }
            return html(page(visits: visits, user: user, flashes: flashes.compactMap(\.stringValue)))
        }

        router.post("/login") { request, context -> Response in
            let body = try await request.body.collect(upTo: 4096)
            let form = try? URLEncodedFormDecoder().decode(LoginForm.self, from: String(buffer: body))
            let name = (form?.username ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !name.isEmpty, name.count <= 64 else {
                try context.sessions.withSession { $0.addFlash("Please enter a user name (up to 64 characters).") }
                return .redirect(to: "/", type: .normal)
            }
            try context.sessions.withSession { session in
                session.values["user"] = .string(name)
                session.addFlash(.string("Welcome, \(name)!"))
            }
            context.sessions.regenerateID(userID: name)  // a new session ID at login, bound to the user
            return .redirect(to: "/", type: .normal)
        }

        router.post("/logout") { _, context -> Response in
            context.sessions.destroy()
            return .redirect(to: "/", type: .normal)
        }

        // Every session of this user goes, on every device (after a password change, say): the
        // others here, this one by destroy() after the handler, which also expires its cookie.
        router.post("/logout-everywhere") { _, context -> Response in
            if let session = context.sessions.session, let user = session.values["user"]?.stringValue {
                try await store.destroySessions(ofUser: user, except: session.id)
            }
            context.sessions.destroy()
            return .redirect(to: "/", type: .normal)
        }

        router.get("/health") { _, _ in "ok" }
        return router
    }

    struct LoginForm: Decodable { var username: String }

    static func html(_ body: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }

    static func page(visits: Int, user: String?, flashes: [String]) -> String {
        let notices = flashes.map { "<p class=\"flash\">\(escape($0))</p>" }.joined()
        let account = user.map {
            "<p>Logged in as <b>\(escape($0))</b>.</p><form method=\"post\" action=\"/logout\"><button>Log out</button></form>"
                + "<form method=\"post\" action=\"/logout-everywhere\"><button>Log out everywhere</button></form>"
        } ?? """
            <form method="post" action="/login"><label>User name <input name="username"></label> <button>Log in</button></form>
            """
        return """
            <!doctype html><html><head><meta charset="utf-8"><title>swift-pgstore demo</title></head><body>
            <h1>swift-pgstore demo</h1>\(notices)<p>Visits in this session: <span id="visits">\(visits)</span></p>\(account)
            </body></html>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
