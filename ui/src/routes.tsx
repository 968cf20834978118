import type { RouteObject } from 'react-router-dom';
import { AuditPage } from './pages/AuditPage';
import { DashboardPage } from './pages/DashboardPage';
import { DhcpLeasesPage, DhcpReservationsPage, DhcpSubnetsPage } from './pages/DhcpPages';
import { NotFoundPage } from './pages/NotFoundPage';
import { ResourceDetailPage } from './pages/ResourceDetailPage';
import { ResourceEditPage } from './pages/ResourceEditPage';
import { ResourceListPage } from './pages/ResourceListPage';
import { TftpPage } from './pages/TftpPage';
import { UserFormPage } from './pages/UserFormPage';
import { RESOURCE_VIEWS } from './resources';

/**
 * Every page of the signed-in app. To add one: a route here and, for the
 * navigation, an entry in NAV. Specific routes (`/racks/:id/elevation`) win
 * over the generic resource routes below them, so a dedicated page can
 * replace the generic one for a resource.
 */
export const ROUTES: RouteObject[] = [
  { index: true, element: <DashboardPage /> },
  { path: 'dhcp-subnets', element: <DhcpSubnetsPage /> },
  { path: 'dhcp-reservations', element: <DhcpReservationsPage /> },
  { path: 'dhcp/leases', element: <DhcpLeasesPage /> },
  { path: 'tftp', element: <TftpPage /> },
  { path: 'audit', element: <AuditPage /> },
  { path: 'users/new', element: <UserFormPage /> },
  { path: 'users/:id/edit', element: <UserFormPage /> },
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
  /** Shown to administrators only (what RBAC keeps to them without an inventory resource: the audit log). */
  readonly adminOnly?: boolean;
}

/** Pages that are not inventory resources, placed after the resource they belong with. */
const NAV_AFTER: Readonly<Record<string, readonly NavItem[]>> = {
  'dhcp-subnets': [{ to: '/dhcp/leases', label: 'Leases', group: 'DHCP and boot' }],
  'dhcp-reservations': [{ to: '/tftp', label: 'TFTP transfers', group: 'DHCP and boot' }],
  users: [{ to: '/audit', label: 'Audit log', group: 'Administration', adminOnly: true }],
};

export const NAV: readonly NavItem[] = [
  { to: '/', label: 'Dashboard', group: 'Overview' },
  ...RESOURCE_VIEWS.flatMap((v) => [{ to: `/${v.key}`, label: v.label, group: v.group, api: v.api }, ...(NAV_AFTER[v.key] ?? [])]),
];
