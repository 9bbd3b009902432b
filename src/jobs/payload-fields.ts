/**
 * Fields job payloads share. A worker treats `job.data` as unknown and parses
 * it with its kind's schema first. Old jobs may still wait in Redis when a new
 * version starts: change a payload only by adding optional fields.
 */
import { z } from "zod";
import { parseInstant } from "../facts/time.ts";

export const triggerSchema = z.enum(["manual", "schedule", "api", "event"]);

export type Trigger = z.infer<typeof triggerSchema>;

export const instant = z
  .string()
  .refine((v) => parseInstant(v) !== undefined, { message: "must be an ISO-8601 instant" });

export const ruleId = z.string().min(1).max(200);

export const entityId = z.string().min(1).max(1000);
