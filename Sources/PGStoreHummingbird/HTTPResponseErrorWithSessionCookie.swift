import Hummingbird
import HTTPTypes

/// A handler's `HTTPResponseError` with the session's `Set-Cookie` field added to its response, as
/// Hummingbird's own middleware add headers to errors they pass on.
struct HTTPResponseErrorWithSessionCookie: HTTPResponseError, CustomStringConvertible {
    let original: any HTTPResponseError
    let setCookie: HTTPField

    var status: HTTPResponse.Status { original.status }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try original.response(from: request, context: context)
        response.headers.append(setCookie)
        return response
    }

    var description: String { String(describing: original) }
}
