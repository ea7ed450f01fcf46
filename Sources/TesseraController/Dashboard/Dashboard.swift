import Hummingbird
import NIOCore

/// The web dashboard: one page, its script and its style, compiled into the controller (no CDN, no front-end
/// build). The page holds no data; it signs in with a token kept in the tab's sessionStorage and sent as a
/// bearer header to the read-only views (`/v1/snapshot`, `/v1/history`, the `/v1/stream` of server-sent
/// events) and the administrators' actions.
enum Dashboard {
    static func addPage(to router: Router<ControllerRequestContext>) {
        router.get("/") { _, _ in asset(DashboardAssets.page, type: "text/html; charset=utf-8") }
        router.get("/dashboard.js") { _, _ in asset(DashboardAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/dashboard.css") { _, _ in asset(DashboardAssets.style, type: "text/css; charset=utf-8") }
    }

    private static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [
            .contentType: type, .cacheControl: "no-cache",
            .contentSecurityPolicy: "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
