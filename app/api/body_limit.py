"""Refuse request bodies above a size before anything parses them (413 problem).

The public objection endpoint takes JSON from strangers: without a cap a single request could
make the service read gigabytes into memory. Multipart uploads (BPMN files) get their own,
larger cap, and uploads of materials (paths ending in ``/attachments``) theirs; everything else is
JSON and small.
"""

import json

from app.api.problems import PROBLEM_BASE


class BodyLimit:
    def __init__(self, app, max_json_bytes: int, max_upload_bytes: int, max_attachment_bytes: int = 0):
        self.app = app
        self.max_json = max_json_bytes
        self.max_upload = max_upload_bytes
        self.max_attachment = max_attachment_bytes or max_upload_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/")
        upload = self.max_attachment if scope["path"].endswith("/attachments") else self.max_upload
        limit = upload + 64 * 1024 if multipart else self.max_json
        code = "upload_too_large" if multipart else "body_too_large"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._refuse(send, limit, code)
        seen, exceeded, refused = 0, False, False

        async def counting_receive():
            nonlocal seen, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Tell the app the client went away: it stops reading and never runs the endpoint.
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            nonlocal refused
            if not exceeded:
                await send(message)
            elif not refused:
                refused = True
                await self._refuse(send, limit, code)

        await self.app(scope, counting_receive, guarded_send)
        if exceeded and not refused:
            await self._refuse(send, limit, code)

    @staticmethod
    async def _refuse(send, limit: int, code: str) -> None:
        body = json.dumps(
            {
                "type": PROBLEM_BASE + code,
                "title": "Content Too Large",
                "status": 413,
                "code": code,
                "detail": f"the request body exceeds {limit} bytes",
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
