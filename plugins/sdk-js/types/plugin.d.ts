/// <reference path="./interfaces/scim-gateway-plugin-logging.d.ts" />
/// <reference path="./interfaces/scim-gateway-plugin-mapper.d.ts" />
declare module 'scim-gateway:plugin/plugin@1.1.0' {
  export type * as ScimGatewayPluginLogging110 from 'scim-gateway:plugin/logging@1.1.0'; // import scim-gateway:plugin/logging@1.1.0
  export * as mapper from 'scim-gateway:plugin/mapper@1.1.0'; // export scim-gateway:plugin/mapper@1.1.0
}
