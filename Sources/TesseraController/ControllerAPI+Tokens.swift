import Foundation
import Hummingbird
import TesseraPoolAPI

extension ControllerAPI {
    /// User tokens: administrators create, list and revoke them; nodes verify the tokens programs present.
    static func addTokens(admins: RouterGroup<ControllerRequestContext>, nodes: RouterGroup<ControllerRequestContext>, controller c: Controller) {
        admins.post("/v1/tokens") { request, _ in
            let body = try await decode(TokenRequest.self, request)
            return JSONReply(try await c.issueToken(body), status: .created)
        }
        admins.get("/v1/tokens") { _, _ in JSONReply(c.listTokens()) }
        admins.delete("/v1/tokens/{id}") { _, context in
            JSONReply(try await c.revokeToken(try parameter("id", context)))
        }
        nodes.post("/v1/tokens/verify") { request, _ in
            let body = try await decode(TokenVerification.self, request)
            return JSONReply(try c.verifyToken(body.secret))
        }
    }
}
