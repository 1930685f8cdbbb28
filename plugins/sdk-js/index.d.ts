// Types of @scim-gateway/plugin-sdk. The contract's own types (generated
// from plugins/wit/mapper.wit with jco) are in types/; these build on them.

/// <reference path="./types/plugin.d.ts" />

import type { Context as WitContext, Rejection as WitRejection } from "scim-gateway:plugin/mapper@1.1.0";
import type { Level } from "scim-gateway:plugin/logging@1.1.0";

export type { Level };
export type Operation = WitContext["operation"];
export type Direction = WitContext["direction"];

/** A multi-valued attribute's entry (emails, phoneNumbers, ...). */
export interface MultiValue {
  value?: string;
  display?: string;
  type?: string;
  primary?: boolean;
  [key: string]: unknown;
}

/** A SCIM meta block: the plugin must return it unchanged. */
export interface Meta {
  resourceType?: string;
  created?: string;
  lastModified?: string;
  location?: string;
  version?: string;
}

/** Any SCIM resource: a JSON object. */
export interface Resource {
  schemas?: string[];
  id?: string;
  externalId?: string;
  meta?: Meta;
  [key: string]: unknown;
}

/** A User (RFC 7643 section 4.1), as far as the core schema goes. */
export interface User extends Resource {
  userName?: string;
  name?: {
    formatted?: string;
    familyName?: string;
    givenName?: string;
    middleName?: string;
    honorificPrefix?: string;
    honorificSuffix?: string;
  };
  displayName?: string;
  nickName?: string;
  title?: string;
  userType?: string;
  preferredLanguage?: string;
  locale?: string;
  timezone?: string;
  active?: boolean | string;
  emails?: MultiValue[];
  phoneNumbers?: MultiValue[];
  groups?: MultiValue[];
  roles?: MultiValue[];
  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"?: {
    employeeNumber?: string;
    costCenter?: string;
    organization?: string;
    division?: string;
    department?: string;
    manager?: { value?: string; displayName?: string };
  };
}

/** A Group (RFC 7643 section 4.2). */
export interface Group extends Resource {
  displayName?: string;
  members?: MultiValue[];
}

/** What `mapResource` is called for. */
export interface Context<Config = Record<string, unknown>> {
  /** `User`, `Group`, or another resource type's name. */
  resourceType: string;
  operation: Operation;
  direction: Direction;
  /** The plugin's `config` table from the gateway's configuration. */
  config: Config;
  /** Sends a message to the plugin's log. */
  log(level: Level, ...args: unknown[]): void;
  /**
   * Whether the request deactivates the resource (the gateway's own rule;
   * `resource` defaults to the one the plugin was given). The gateway lets
   * a deactivation through whatever the plugin answers.
   */
  isDeprovisioning(resource?: unknown): boolean;
}

export interface Plugin<R extends Resource = Resource, Config = Record<string, unknown>> {
  /**
   * Maps one resource: return the resource to use (or nothing, to use the
   * one given, changed in place), or throw `reject(...)` to refuse it.
   * Anything else thrown becomes a 500 rejection naming the exception.
   */
  mapResource(ctx: Context<Config>, resource: R): R | void;
}

/** The component's `mapper` export. */
export interface Mapper {
  mapResource(ctx: WitContext, json: string): string;
}

export declare function definePlugin<R extends Resource = Resource, Config = Record<string, unknown>>(
  plugin: Plugin<R, Config>,
): Mapper;

/** A refusal, thrown. */
export declare class Rejection extends Error implements WitRejection {
  constructor(status: number, scimType: string | undefined, detail: string);
  status: number;
  scimType?: string;
  detail: string;
}

/** Refuses the resource with `status` (400 to 599), `scimType` and `detail`. */
export declare function reject(status: number, scimType: string | undefined, detail: string): never;
/** Refuses with 400 `invalidValue`. */
export declare function invalidValue(detail: string): never;
/** The gateway's deprovisioning rule on one resource. */
export declare function deactivates(resource: unknown): boolean;
/** A thrown value in words, as a rejection names it. */
export declare function describe(thrown: unknown): string;
/** What a thrown value becomes. */
export declare function asRejection(thrown: unknown): Rejection;
/** Sends a message to the plugin's log. */
export declare function log(level: Level, ...args: unknown[]): void;
