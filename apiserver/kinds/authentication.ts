// authentication.k8s.io/v1 TokenReview and SelfSubjectReview: created only, never stored (storage ''); the
// server answers them from its authenticators (a token's user, or the requester's own).
import { ensure, nameOf } from './access.js';
import { defineKind, NAME_COLUMN, resourceDef } from './meta.js';
import { nameIsPathSegment } from './rbac.js';

export const AUTHENTICATION_GROUP = 'authentication.k8s.io';

const review = (resource: string, kind: string) =>
  defineKind({
    def: resourceDef({ group: AUTHENTICATION_GROUP, resource, kind, storage: '', namespaced: false, verbs: ['create'] }),
    nameCheck: nameIsPathSegment,
    defaults: (o) => void ensure(o, 'spec'),
    columns: [NAME_COLUMN],
    row: (o) => [nameOf(o)],
  });
export const tokenReviewStrategy = review('tokenreviews', 'TokenReview');
export const selfSubjectReviewStrategy = review('selfsubjectreviews', 'SelfSubjectReview');
