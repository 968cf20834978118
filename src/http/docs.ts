import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

/**
 * OpenAPI 3.1 generated from the route schemas (3.1 because the schemas use
 * JSON Schema type lists for nullable fields), the document at
 * /api/docs/json and Swagger UI at /api/docs. The UI's assets are served from
 * the package, never from a CDN, so the docs work on an isolated
 * management network. Register before any route, so every route is seen.
 */
export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'dcplane API',
        version,
        description:
          'Inventory, DHCP and TFTP of dcplane. Lists take limit/offset, ordering, q, brief and field filters ' +
          '(`field=value`, `field__lookup=value`); writes return an ETag (W/"<version>") and honour If-Match. ' +
          'Errors are {code, message, errors: [{path, message}]}.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An access token from POST /api/v1/auth/token, or an API token (dcp_…).' },
        },
      },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/api/docs', staticCSP: true });
}
