// wagate: Swagger UI over the gateway's own document, served from the binary.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/api/spec.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
};
