import Foundation
import Hummingbird
import NIOCore
import TesseraPoolAPI

/// Reads the bearer token of every request into ``ControllerRequestContext/caller``; refuses requests without
/// a known token.
/// A client host that presented too many invalid tokens lately gets 429 for further invalid ones; valid tokens
/// always pass.
struct CallerMiddleware: RouterMiddleware {
    let configuration: ControllerConfiguration
    let failures: AuthenticationFailures
    /// The identity of a controller-issued user token, nil when it is not one (or no longer valid).
    let verifyUserToken: @Sendable (String) -> TokenIdentity?

    func handle(
        _ request: Request, context: ControllerRequestContext,
        next: (Request, ControllerRequestContext) async throws -> Response
    ) async throws -> Response {
        let host = context.clientHost ?? "unknown"
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw PoolError(.unauthorized, "missing bearer token")
        }
        let token = String(header.dropFirst("Bearer ".count))
        var context = context
        context.caller = if configuration.adminTokens.contains(token) { .admin }
            else if configuration.nodeTokens.contains(token) { .node }
            else if configuration.schedulerTokens.contains(token) { .scheduler }
            else if configuration.metricsTokens.contains(token) { .metrics }
            else if configuration.teacherTokens[token] != nil { .teacher }
            else if let identity = verifyUserToken(token), identity.role == .teacher, identity.group != nil { .teacher }
            else {
                // Only invalid tokens meet the limiter: a valid token is never refused because others guessed
                // from the same host (a node's heartbeats must not fail for a tenant's guessing beside it).
                if let wait = failures.blocked(host) {
                    throw PoolError(.rateLimited, "too many invalid tokens from \(host); try again in \(Int(wait.rounded(.up))) s")
                }
                failures.failed(host)
                throw PoolError(.unauthorized, "invalid token")
            }
        if context.caller == .node { context.credential = UserToken.hash(of: token) }
        if context.caller == .teacher {
            // A teacher token from the --teacher-token-file, or one the controller issued with role teacher.
            context.teacherGroup = configuration.teacherTokens[token] ?? verifyUserToken(token)?.group
        }
        return try await next(request, context)
    }
}

/// Lets through admins and the callers a group of routes allows.
struct RoleMiddleware: RouterMiddleware {
    let allowed: Set<Caller>

    func handle(
        _ request: Request, context: ControllerRequestContext,
        next: (Request, ControllerRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let caller = context.caller else { throw PoolError(.unauthorized, "missing bearer token") }
        guard caller == .admin || allowed.contains(caller) else {
            throw PoolError(.unauthorized, "a \(caller.rawValue) token may not do this")
        }
        return try await next(request, context)
    }
}

/// Turns every error of a route into the API's error document: a ``PoolError`` as it is, anything else (a
/// body too large, a malformed one) as `invalidRequest`.
struct APIErrorMiddleware: RouterMiddleware {
    func handle(
        _ request: Request, context: ControllerRequestContext,
        next: (Request, ControllerRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as PoolError {
            throw APIErrorResponse(error: error)
        } catch {
            throw APIErrorResponse(error: PoolError(.invalidRequest, "\(error)"))
        }
    }
}

/// The one place where a ``PoolError`` becomes an HTTP reply: `{"code": …, "message": …}` with the status
/// ``PoolError/Code/httpStatus`` gives.
struct APIErrorResponse: HTTPResponseError {
    let error: PoolError

    var status: HTTPResponse.Status { HTTPResponse.Status(code: error.code.httpStatus) }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONReply(APIErrorBody(code: error.code.rawValue, message: error.message), status: status).response()
    }
}

/// A JSON reply (keys sorted) of any encodable value.
struct JSONReply<Value: Encodable & Sendable>: ResponseGenerator {
    let value: Value
    let status: HTTPResponse.Status

    init(_ value: Value, status: HTTPResponse.Status = .ok) {
        self.value = value
        self.status = status
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    func response() -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
