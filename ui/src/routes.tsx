import type { RouteObject } from 'react-router-dom';
import { DashboardPage } from './pages/DashboardPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { ResourceDetailPage } from './pages/ResourceDetailPage';
import { ResourceEditPage } from './pages/ResourceEditPage';
import { ResourceListPage } from './pages/ResourceListPage';
import { RESOURCE_VIEWS } from './resources';

/**
 * Every page of the signed-in app. To add one: a route here and, for the
 * navigation, an entry in NAV. Specific routes (`/racks/:id/elevation`) win
 * over the generic resource routes below them, so a dedicated page can
 * replace the generic one for a resource.
 */
export const ROUTES: RouteObject[] = [
  { index: true, element: <DashboardPage /> },
  ...RESOURCE_VIEWS.flatMap((v): RouteObject[] => [
    { path: v.key, element: <ResourceListPage view={v} /> },
    { path: `${v.key}/new`, element: <ResourceEditPage view={v} /> },
    { path: `${v.key}/:id`, element: <ResourceDetailPage view={v} /> },
    { path: `${v.key}/:id/edit`, element: <ResourceEditPage view={v} /> },
  ]),
  { path: '*', element: <NotFoundPage /> },
];

export interface NavItem {
  readonly to: string;
  readonly label: string;
  readonly group: string;
  /** The API resource behind it: the entry is hidden when the role may not read it. */
  readonly api?: string;
}

export const NAV: readonly NavItem[] = [
  { to: '/', label: 'Dashboard', group: 'Overview' },
  ...RESOURCE_VIEWS.map((v) => ({ to: `/${v.key}`, label: v.label, group: v.group, api: v.api })),
];
