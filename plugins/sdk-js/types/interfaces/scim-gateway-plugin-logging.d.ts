declare module 'scim-gateway:plugin/logging@1.1.0' {
  /**
   * Records one message. It never fails and never blocks.
   */
  export function log(level: Level, message: string): void;
  /**
   * # Variants
   * 
   * ## `"debug"`
   * 
   * ## `"info"`
   * 
   * ## `"warn"`
   * 
   * ## `"error"`
   */
  export type Level = 'debug' | 'info' | 'warn' | 'error';
}
