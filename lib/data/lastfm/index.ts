// Last.fm-1K raw files: the profile parser, the events parser and the item fields of its tracks.
export { parseLastfmEvents } from './events';
export { parseLastfmProfiles, type LastfmProfile } from './profiles';
export { lastfmDisplayName, lastfmTrackId, trackDisplayName, trackIdFromKeys, trackItemFields, trackNames } from './track-fields';
export { EVENT_FIELDS, type LastfmEvents, type ParseEventsOptions, type TrackKeys } from './types';
