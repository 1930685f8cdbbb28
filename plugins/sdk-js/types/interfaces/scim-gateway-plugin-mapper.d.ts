declare module 'scim-gateway:plugin/mapper@1.1.0' {
  /**
   * Maps one SCIM resource, given and returned as a JSON object in text.
   * The result must be a resource of the same type with `id` and `meta`
   * unchanged.
   */
  export function mapResource(ctx: Context, json: string): string;
  /**
   * Which way the resource travels: from the IdP to the backend, or back.
   * # Variants
   * 
   * ## `"request"`
   * 
   * ## `"response"`
   */
  export type Direction = 'request' | 'response';
  /**
   * What the request does to the resource. For a PATCH the plugin gets
   * the resource as it will be after the patch; for a list, each
   * resource on its own with `read`.
   * # Variants
   * 
   * ## `"create"`
   * 
   * ## `"replace"`
   * 
   * ## `"patch"`
   * 
   * ## `"read"`
   */
  export type Operation = 'create' | 'replace' | 'patch' | 'read';
  /**
   * What the plugin is called for.
   */
  export interface Context {
    /**
     * `User`, `Group`, or another resource type's name.
     */
    resourceType: string,
    operation: Operation,
    direction: Direction,
    /**
     * The plugin's `config` table from the gateway's configuration, as
     * JSON text (`{}` when there is none).
     */
    config: string,
  }
  /**
   * A refusal: the gateway answers the IdP with a SCIM error carrying
   * these, and forwards nothing.
   */
  export interface Rejection {
    /**
     * An HTTP status, 400 to 599.
     */
    status: number,
    /**
     * A SCIM `scimType` such as `invalidValue`, if one fits.
     */
    scimType?: string,
    /**
     * What the IdP's admin reads.
     */
    detail: string,
  }
}
