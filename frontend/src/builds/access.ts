/** The workspace grant that lets a member define and run builds (workspaces.models.Grant). */
export const BUILDS_RUN = 'builds.run';
