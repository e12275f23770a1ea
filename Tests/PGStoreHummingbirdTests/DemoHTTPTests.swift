import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import PGClient
import PGTestSupport
import PGStore
import PGStoreHummingbird
import Synchronization
import Testing
@testable import PGStoreDemo

/// The demo app over real HTTP (Hummingbird's live test client, a real socket), cookies carried
/// from each response to the next request like a browser's jar.
struct CookieJar {
    var cookies: [String: String] = [:]

    mutating func store(_ response: TestResponse) {
        for field in response.headers[values: .setCookie] {
            let pair = field.split(separator: ";", maxSplits: 1)[0]
            guard let equals = pair.firstIndex(of: "=") else { continue }
            let name = String(pair[..<equals])
            let value = String(pair[pair.index(after: equals)...])
            if field.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
        }
    }

    var header: HTTPFields {
        cookies.isEmpty ? [:] : [.cookie: cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")]
    }
}

enum HTTPTestSupport {
    static var url: String { get throws { try TestEnvironment.databaseURL } }

    static func store(table: String, poolConfiguration: ConnectionPool.Configuration = .init()) async throws -> SessionStore {
        var configuration = SessionStore.Configuration()
        configuration.tableName = table
        return try await SessionStore(
            url: try url, keys: [try SessionKey(hashKey: [UInt8](repeating: 9, count: 32), encryptionKey: [UInt8](repeating: 8, count: 32))],
            configuration: configuration, poolConfiguration: poolConfiguration)
    }

    /// Runs `body` against the demo app on a real socket, with a store on a table of its own;
    /// the table is dropped and the store closed afterwards, also when `body` throws.
    static func withDemoApp(
        poolConfiguration: ConnectionPool.Configuration = .init(), logger: Logger? = nil,
        router makeRouter: (SessionStore) -> Router<DemoApp.Context> = DemoApp.router(store:),
        _ body: @Sendable (_ store: SessionStore, _ table: String, _ client: any TestClientProtocol) async throws -> Void
    ) async throws {
        let table = TestEnvironment.uniqueName("demo")
        let store = try await Self.store(table: table, poolConfiguration: poolConfiguration)
        let router = makeRouter(store)
        let app = if let logger { Application(router: router, logger: logger) } else { Application(router: router) }
        do {
            try await app.test(.live) { client in try await body(store, table, client) }
        } catch {
            _ = try? await store.pool.query("DROP TABLE \"\(table)\"")
            await store.close()
            throw error
        }
        _ = try? await store.pool.query("DROP TABLE \"\(table)\"")
        await store.close()
    }

    static func visits(_ response: TestResponse) -> Int? {
        let body = String(buffer: response.body)
        guard let start = body.range(of: "<span id=\"visits\">"), let end = body.range(of: "</span>", range: start.upperBound..<body.endIndex) else {
            return nil
        }
        return Int(body[start.upperBound..<end.lowerBound])
    }

    static func form(_ text: String) -> (HTTPFields, ByteBuffer) {
        ([.contentType: "application/x-www-form-urlencoded"], ByteBuffer(string: text))
    }
}

/// Collects log lines, to check what the app logs.
final class RecordingLogHandler: LogHandler, Sendable {
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata { get { [:] } set {} }
    var logLevel: Logger.Level { get { .info } set {} }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? { get { nil } set {} }
    func log(event: LogEvent) {
        lines.withLock(announcingTo: self) { $0.append("\(event.level) \(event.message)") }
    }
}

@Suite("Demo app over real HTTP")
struct DemoHTTPTests {
    @Test func cookieAttributesCounterLoginLogout() async throws {
        try await HTTPTestSupport.withDemoApp { store, table, client in
            var jar = CookieJar()
            // First response: a cookie with HttpOnly, SameSite and Path.
            let first = try await client.execute(uri: "/", method: .get)
            #expect(first.status == .ok)
            let setCookie = try #require(first.headers[.setCookie])
            #expect(setCookie.hasPrefix("sid="))
            #expect(setCookie.contains("HttpOnly"))
            #expect(setCookie.contains("SameSite=Lax"))
            #expect(setCookie.contains("Path=/"))
            #expect(HTTPTestSupport.visits(first) == 1)
            jar.store(first)

            // The counter goes up across requests.
            for expected in 2...4 {
                let response = try await client.execute(uri: "/", method: .get, headers: jar.header)
                #expect(HTTPTestSupport.visits(response) == expected)
                jar.store(response)
            }

            // Login renews the session ID; the old cookie no longer finds the session.
            let anonymous = try #require(jar.cookies["sid"])
            let (formHeaders, formBody) = HTTPTestSupport.form("username=ada")
            var loginHeaders = jar.header
            loginHeaders.append(contentsOf: formHeaders)
            let login = try await client.execute(uri: "/login", method: .post, headers: loginHeaders, body: formBody)
            #expect(login.status == .seeOther || login.status == .found)
            jar.store(login)
            let loggedIn = try #require(jar.cookies["sid"])
            #expect(loggedIn != anonymous)
            let welcome = try await client.execute(uri: "/", method: .get, headers: jar.header)
            let page = String(buffer: welcome.body)
            #expect(page.contains("Logged in as <b>ada</b>"))
            #expect(page.contains("Welcome, ada!"))
            #expect(HTTPTestSupport.visits(welcome) == 5, "values survive the new ID")
            jar.store(welcome)
            let stale = try await client.execute(uri: "/", method: .get, headers: [.cookie: "sid=\(anonymous)"])
            #expect(HTTPTestSupport.visits(stale) == 1)
            #expect(!String(buffer: stale.body).contains("Logged in"))

            // Logout deletes the row and expires the cookie.
            let rowsBefore = try await store.pool.query("SELECT count(*) FROM \"\(table)\"").first?.decode(Int.self, column: 0)
            let logout = try await client.execute(uri: "/logout", method: .post, headers: jar.header)
            #expect(logout.headers[.setCookie]?.contains("Max-Age=0") == true)
            let rowsAfter = try await store.pool.query("SELECT count(*) FROM \"\(table)\"").first?.decode(Int.self, column: 0)
            #expect(rowsAfter == (rowsBefore ?? 0) - 1)
            jar.store(logout)
            #expect(jar.cookies["sid"] == nil)
        }
    }

    @Test func logoutEverywhereEndsEverySessionOfTheUserOnly() async throws {
        try await HTTPTestSupport.withDemoApp { _, _, client in
            /// A browser of its own, logged in as `user`.
            func browser(loggedInAs user: String) async throws -> CookieJar {
                var jar = CookieJar()
                jar.store(try await client.execute(uri: "/", method: .get))
                let (formHeaders, formBody) = HTTPTestSupport.form("username=\(user)")
                var headers = jar.header
                headers.append(contentsOf: formHeaders)
                jar.store(try await client.execute(uri: "/login", method: .post, headers: headers, body: formBody))
                return jar
            }
            func page(_ jar: CookieJar) async throws -> String {
                String(buffer: try await client.execute(uri: "/", method: .get, headers: jar.header).body)
            }
            var laptop = try await browser(loggedInAs: "ada")
            let phone = try await browser(loggedInAs: "ada")
            let other = try await browser(loggedInAs: "bob")
            #expect(try await page(phone).contains("Logged in as <b>ada</b>"))

            let everywhere = try await client.execute(uri: "/logout-everywhere", method: .post, headers: laptop.header)
            #expect(everywhere.headers[.setCookie]?.contains("Max-Age=0") == true)
            laptop.store(everywhere)
            #expect(laptop.cookies["sid"] == nil)
            #expect(!(try await page(phone).contains("Logged in")), "the other device of the same user is logged out")
            #expect(try await page(other).contains("Logged in as <b>bob</b>"), "another user's session stays")
        }
    }

    @Test func tamperedCookieGetsAFreshSessionNotAnError() async throws {
        try await HTTPTestSupport.withDemoApp { _, _, client in
            var jar = CookieJar()
            jar.store(try await client.execute(uri: "/", method: .get))
            let cookie = try #require(jar.cookies["sid"])
            let flipped = String(cookie.dropLast()) + (cookie.last == "A" ? "B" : "A")
            for value in [flipped, "", "garbage", String(repeating: "x", count: 8000)] {
                let response = try await client.execute(uri: "/", method: .get, headers: [.cookie: "sid=\(value)"])
                #expect(response.status == .ok)
                #expect(HTTPTestSupport.visits(response) == 1)
            }
        }
    }
}

@Suite("Handlers that answer by throwing")
struct ThrowingHandlerTests {
    struct HalfDone: Error {}

    /// Routes that change the session and then throw: an HTTP error, or any other error.
    static func router(store: SessionStore) -> Router<DemoApp.Context> {
        let router = Router(context: DemoApp.Context.self)
        router.add(middleware: PGSessionMiddleware(store: store))
        router.get("/flashes") { _, context -> String in
            try context.sessions.withSession { $0.flashes() }.compactMap(\.stringValue).joined(separator: ",")
        }
        router.post("/refuse") { _, context -> Response in
            try context.sessions.withSession { $0.addFlash("wrong password") }
            throw HTTPError(.unauthorized)
        }
        router.post("/fail") { _, context -> Response in
            try context.sessions.withSession { $0.addFlash("half done") }
            throw HalfDone()
        }
        router.post("/hoard") { _, context -> String in
            // Random bytes, so the encoded data cannot shrink below the store's 4,096 bytes.
            let bulk = (0..<6_000).map { _ in String(UInt8.random(in: 0...255), radix: 16) }.joined()
            try context.sessions.withSession { $0.values["bulk"] = .string(bulk) }
            return "stored"
        }
        return router
    }

    @Test func anHTTPErrorKeepsTheSessionAndAnyOtherErrorDiscardsIt() async throws {
        try await HTTPTestSupport.withDemoApp(router: Self.router(store:)) { _, _, client in
            var jar = CookieJar()
            // A 401 thrown after adding a flash: the session is saved, its cookie set on the 401.
            let refused = try await client.execute(uri: "/refuse", method: .post)
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.setCookie]?.hasPrefix("sid=") == true)
            jar.store(refused)
            let next = try await client.execute(uri: "/flashes", method: .get, headers: jar.header)
            #expect(String(buffer: next.body) == "wrong password")
            jar.store(next)

            // Any other error: a 500, no cookie, and nothing of what the handler did is stored.
            let failed = try await client.execute(uri: "/fail", method: .post, headers: jar.header)
            #expect(failed.status == .internalServerError)
            #expect(failed.headers[.setCookie] == nil)
            let after = try await client.execute(uri: "/flashes", method: .get, headers: jar.header)
            #expect(after.status == .ok)
            #expect(String(buffer: after.body) == "", "the flash was read once, and the failed request added none")
        }
    }
}

extension ThrowingHandlerTests {
    @Test func aSessionTooLargeToSaveFailsTheRequestWithALogLineAndKeepsTheStoredOne() async throws {
        let recorder = RecordingLogHandler()
        let logger = Logger(label: "demo-test", factory: { _ in recorder })
        try await HTTPTestSupport.withDemoApp(logger: logger, router: Self.router(store:)) { _, _, client in
            var jar = CookieJar()
            let refused = try await client.execute(uri: "/refuse", method: .post)
            jar.store(refused)

            let hoarded = try await client.execute(uri: "/hoard", method: .post, headers: jar.header)
            #expect(hoarded.status == .internalServerError)
            #expect(hoarded.headers[.setCookie] == nil)
            let logged = recorder.lines.withLock(announcingTo: recorder) { $0 }
            #expect(logged.contains { $0.hasPrefix("error session not saved: SessionStoreError.dataTooLarge") }, "\(logged)")

            // The stored session is as it was: the same cookie still finds it, its flash still there.
            let next = try await client.execute(uri: "/flashes", method: .get, headers: jar.header)
            #expect(next.status == .ok)
            #expect(String(buffer: next.body) == "wrong password")
        }
    }
}

@Suite("Demo app when the database goes away (HTTPServerRestartTests)", .serialized)
struct HTTPServerRestartTests {
    @Test func serviceUnavailableWhileTheDatabaseIsDownThenBackWithoutRestart() async throws {
        var poolConfiguration = ConnectionPool.Configuration()
        poolConfiguration.connectionWaitTimeout = .seconds(2) * TestEnvironment.timeScale  // how long a request waits while the database is down
        poolConfiguration.maximumReconnectDelay = .milliseconds(200)
        let recorder = RecordingLogHandler()
        let logger = Logger(label: "demo-test", factory: { _ in recorder })
        try await HTTPTestSupport.withDemoApp(poolConfiguration: poolConfiguration, logger: logger) { _, _, client in
            #expect(try await client.execute(uri: "/", method: .get).status == .ok)
            try TestEnvironment.pgctl("stop")
            let down = try await client.execute(uri: "/", method: .get)
            #expect(down.status == .serviceUnavailable)
            #expect(recorder.lines.withLock(announcingTo: recorder) { $0.contains { $0.hasPrefix("error session store unavailable") } })
            try TestEnvironment.pgctl("start")
            var recovered = false
            for _ in 0..<50 {
                if try await client.execute(uri: "/", method: .get).status == .ok {
                    recovered = true
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(recovered, "serves again once the database is back, without a restart")
        }
    }
}
