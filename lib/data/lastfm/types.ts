/** The shapes the events parser produces and accepts, shared by its parts. */

export const EVENT_FIELDS = ['userid', 'timestamp', 'musicbrainz-artist-id', 'artist-name', 'musicbrainz-track-id', 'track-name'];

export interface ParseEventsOptions {
  /** Worker threads; default: several for files over 64 MB, else parse in this thread. */
  threads?: number;
  /** 'error' (default) stops at the first malformed line; 'skip' counts and skips malformed lines. */
  badLines?: 'error' | 'skip';
  /** Called with the bytes read so far (for progress). */
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  chunkBytes?: number;
  /**
   * Also compute the sha1 prefixes of all track keys (LastfmEvents.sha1Prefixes), the tracks of the first range in
   * a thread of their own while the ranges are merged: they are the item ids, and the merge leaves a core idle.
   */
  sha1Prefixes?: boolean;
}

/** Distinct tracks: key bytes `artist \t track` (UTF-8) of track t are bytes[offsets[t] .. offsets[t+1]). */
export interface TrackKeys {
  count: number;
  bytes: Uint8Array;
  offsets: Int32Array;
}

export interface LastfmEvents {
  file: string;
  /** Distinct user ids in order of first appearance. */
  users: string[];
  /** Listening events (lines) per user. */
  userEvents: number[];
  /** Line number of each user's first event (for error messages). */
  userFirstLine: number[];
  /** Per user: distinct track ids ascending (ids are in order of first appearance in the file), and events per track. */
  userTracks: Int32Array[];
  userCounts: Int32Array[];
  tracks: TrackKeys;
  lines: number;
  events: number;
  skipped: { lines: number; examples: string[] };
  /** With ParseEventsOptions.sha1Prefixes: the first 64 bits of sha1 of each track's key, two words per track. */
  sha1Prefixes?: Int32Array;
}
